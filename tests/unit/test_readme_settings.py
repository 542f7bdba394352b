"""The README's settings table names every setting the app reads."""

from __future__ import annotations

from onboarding.settings import Settings
from tests.support.environment import PROJECT_DIR


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in readme]
    assert missing == []
