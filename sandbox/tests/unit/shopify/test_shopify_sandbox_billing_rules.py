"""Billing API rules without HTTP: validation, status transitions, the return URL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.shopify import billing
from sandbox.shopify.models import PlanTier, Shop

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def shop(currency: str = "USD") -> Shop:
    return Shop(1, "s.myshopify.com", "S", "s@example.com", PlanTier.STANDARD, currency, NOW)


def item(amount: str = "10.00", currency: str = "USD", interval: str = "EVERY_30_DAYS") -> dict[str, Any]:
    price = {"amount": amount, "currencyCode": currency}
    return {"plan": {"appRecurringPricingDetails": {"price": price, "interval": interval}}}


def charge(target: Shop, ident: int, *, trial_days: int = 0, interval: str = "EVERY_30_DAYS") -> Any:
    sub = billing.build_subscription(
        subscription_id=ident,
        line_item_ids=[ident + 1000],
        api_key="key",
        name=f"Plan {ident}",
        line_items=[item(interval=interval)],
        return_url="https://app.test/back?x=1#top",
        trial_days=trial_days,
        test=None,
        now=NOW,
    )
    target.app_subscriptions[sub.id] = sub
    return sub


def test_a_valid_charge_has_no_errors() -> None:
    assert billing.validate_create(shop(), "Pro", [item()], "https://app.test/back", 0) == []


def test_the_shops_currency_is_allowed_and_others_are_not() -> None:
    assert billing.validate_create(shop("EUR"), "Pro", [item(currency="EUR")], "https://a.test", None) == []
    errors = billing.validate_create(shop("EUR"), "Pro", [item(currency="GBP")], "https://a.test", None)
    assert [e["field"][-1] for e in errors] == ["currencyCode"]


def test_every_problem_is_reported_at_once() -> None:
    errors = billing.validate_create(shop(), " ", [], "mailto:x@example.com", -3)
    assert [e["field"] for e in errors] == [["name"], ["lineItems"], ["returnUrl"], ["trialDays"]]


def test_approving_cancels_the_other_active_charge_and_sets_the_period_end() -> None:
    target = shop()
    first = charge(target, 1)
    billing.transition(target, first, "ACTIVE", NOW)
    second = charge(target, 2, trial_days=14, interval="ANNUAL")
    changed = billing.transition(target, second, "ACTIVE", NOW)
    assert [(c.id, c.status) for c in changed] == [(1, "CANCELLED"), (2, "ACTIVE")]
    assert second.current_period_end == datetime(2027, 12, 7, tzinfo=UTC)  # 14 + 365 days


def test_declining_touches_only_that_charge() -> None:
    target = shop()
    active = charge(target, 1)
    billing.transition(target, active, "ACTIVE", NOW)
    pending = charge(target, 2)
    assert billing.transition(target, pending, "DECLINED", NOW) == [pending]
    assert active.status == "ACTIVE"


def test_return_url_keeps_its_query_and_gets_the_charge_id() -> None:
    sub = charge(shop(), 42)
    assert billing.return_url_with_charge(sub) == "https://app.test/back?x=1&charge_id=42#top"


def test_webhook_payload_shape() -> None:
    target = shop()
    sub = charge(target, 7)
    assert billing.webhook_payload(target, sub) == {
        "app_subscription": {
            "admin_graphql_api_id": "gid://shopify/AppSubscription/7",
            "name": "Plan 7",
            "status": "PENDING",
            "admin_graphql_api_shop_id": "gid://shopify/Shop/1",
            "created_at": "2026-11-23T00:00:00+00:00",
            "updated_at": "2026-11-23T00:00:00+00:00",
            "currency": "USD",
            "capped_amount": None,
        }
    }
