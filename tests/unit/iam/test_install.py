"""Installing: Shopify's plan names map to the rate limit tiers the limiter uses."""

from __future__ import annotations

import pytest

from iam.install import plan_tier_of


@pytest.mark.parametrize(
    ("display_name", "plus", "tier"),
    [
        ("Basic", False, "standard"),
        ("Shopify", False, "standard"),
        ("Advanced", False, "advanced"),
        ("Shopify Plus", True, "plus"),
        ("Commerce Components", True, "enterprise"),
        ("Enterprise", False, "enterprise"),
    ],
)
def test_plan_names_map_to_rate_limit_tiers(display_name: str, plus: bool, tier: str) -> None:
    assert plan_tier_of(display_name, plus) == tier
