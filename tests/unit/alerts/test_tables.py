"""The alerts domain's enum is the strings its table holds (renaming one would orphan rows)."""

from __future__ import annotations

from alerts.tables import AlertAudience, AlertDigest
from tests.support.enum_columns import assert_choices_hold


def test_a_digest_s_audience_choices_are_the_strings_its_rows_hold() -> None:
    assert_choices_hold(AlertDigest.audience, AlertAudience, ["merchant", "operators"])
