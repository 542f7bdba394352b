"""Settings: malformed values stop start-up with one clear line naming the setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iam.vault import generate_key
from onboarding.settings import SettingsError, load_settings
from tests.support.environment import PROJECT_DIR

PRODUCTION_KEYS = f"prod1:{generate_key()}"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"database_url": "mysql://db/app"}, "DATABASE_URL"),
        ({"database_url": "sqlite:///"}, "DATABASE_URL"),
        ({"shopify_shop_base_url": "https://example.com"}, "SHOPIFY_SHOP_BASE_URL"),
        ({"log_level": "LOUD"}, "LOG_LEVEL"),
        ({"secret_key": "short"}, "SECRET_KEY"),
        ({"app_env": "production"}, "SECRET_KEY"),
        ({"app_env": "production", "secret_key": "x" * 40}, "VAULT_KEYS"),
        (
            {"app_env": "production", "secret_key": "x" * 40, "vault_keys": PRODUCTION_KEYS},
            "SHOPIFY_API_SECRET",
        ),
        ({"vault_keys": "k:not-32-bytes"}, "VAULT_KEYS"),
        ({"request_head_max_bytes": 100}, "REQUEST_HEAD_MAX_BYTES"),
        ({"request_head_timeout_seconds": 0}, "REQUEST_HEAD_TIMEOUT_SECONDS"),
    ],
)
def test_bad_setting_is_named_in_one_line(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, **overrides)
    message = str(raised.value)
    assert named in message
    assert "\n" not in message


def test_development_defaults_load_without_any_environment() -> None:
    settings = load_settings(_env_file=None)
    assert settings.is_development
    assert settings.shop_base_url("a.myshopify.com") == "https://a.myshopify.com"


def test_cli_refuses_to_start_with_a_malformed_database_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "onboarding", "serve", "--port", "1"],
        cwd=PROJECT_DIR,
        env={"DATABASE_URL": "mysql://nope", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: invalid settings: DATABASE_URL: must start with sqlite:/// or postgresql://"
    ]
    assert "Traceback" not in result.stderr + result.stdout
