"""The Billing API: app subscriptions (recurring app charges) and their life cycle.

`appSubscriptionCreate` makes a PENDING charge and a confirmation URL; the merchant
approves (ACTIVE; the app's other ACTIVE charge in the shop is CANCELLED, as Shopify
replaces it) or declines (DECLINED) on the sandbox's confirmation page. Every status
change sends `app_subscriptions/update` with Shopify's REST-shaped payload. Times come
from `config.epoch_clock`, so tests move them without waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sandbox.shopify.config import ShopifySandboxConfig
from sandbox.shopify.models import AppSubscription, AppSubscriptionLineItem, Shop, gid, parse_gid
from sandbox.shopify.payloads import rest_time

TOPIC = "app_subscriptions/update"
STATUSES = ("ACTIVE", "CANCELLED", "DECLINED", "EXPIRED", "FROZEN", "PENDING")
# What the control API may set (PENDING and DECLINED only come from the merchant).
CONTROL_STATUSES = ("ACTIVE", "CANCELLED", "EXPIRED", "FROZEN")
# No way back from these: cancelling one again is a user error.
FINAL_STATUSES = frozenset({"CANCELLED", "DECLINED", "EXPIRED"})
INTERVAL_DAYS = {"EVERY_30_DAYS": 30, "ANNUAL": 365}
INTERVAL_LABELS = {"EVERY_30_DAYS": "every 30 days", "ANNUAL": "every year"}
# Shopify bills apps in USD or in the shop's local billing currency.
BASE_BILLING_CURRENCY = "USD"
_PRICE_FIELD = ["plan", "appRecurringPricingDetails", "price"]


def billing_now(config: ShopifySandboxConfig) -> datetime:
    return datetime.fromtimestamp(int(config.epoch_clock()), UTC)


def _error(field: list[str] | None, message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def validate_create(
    shop: Shop,
    name: str,
    line_items: list[dict[str, Any]],
    return_url: str,
    trial_days: int | None,
) -> list[dict[str, Any]]:
    """Shopify's userErrors for `appSubscriptionCreate`, all of them at once."""
    errors: list[dict[str, Any]] = []
    if not name.strip():
        errors.append(_error(["name"], "Name can't be blank"))
    if not line_items:
        errors.append(_error(["lineItems"], "Line items must contain at least one line item"))
    recurring = 0
    for index, item in enumerate(line_items):
        base = ["lineItems", str(index)]
        details = (item.get("plan") or {}).get("appRecurringPricingDetails")
        if details is None:
            errors.append(_error([*base, "plan"], "Plan must have recurring pricing details"))
            continue
        recurring += 1
        price = details["price"]
        if Decimal(price["amount"]) <= 0:
            errors.append(_error([*base, *_PRICE_FIELD, "amount"], "Price must be greater than 0"))
        currency = price["currencyCode"]
        if currency not in (BASE_BILLING_CURRENCY, shop.currency_code):
            errors.append(
                _error(
                    [*base, *_PRICE_FIELD, "currencyCode"],
                    f"Currency {currency} is not supported: use {BASE_BILLING_CURRENCY} "
                    f"or the shop's billing currency {shop.currency_code}",
                )
            )
    if recurring > 1:
        errors.append(_error(["lineItems"], "Only one recurring line item is allowed"))
    parts = urlsplit(return_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(_error(["returnUrl"], "Return url must be an http or https URL"))
    if trial_days is not None and trial_days < 0:
        errors.append(_error(["trialDays"], "Trial days must be greater than or equal to 0"))
    return errors


def build_subscription(
    *,
    subscription_id: int,
    line_item_ids: list[int],
    api_key: str,
    name: str,
    line_items: list[dict[str, Any]],
    return_url: str,
    trial_days: int | None,
    test: bool | None,
    now: datetime,
) -> AppSubscription:
    items = []
    for item_id, item in zip(line_item_ids, line_items, strict=True):
        details = item["plan"]["appRecurringPricingDetails"]
        items.append(
            AppSubscriptionLineItem(
                id=item_id,
                amount=str(details["price"]["amount"]),
                currency_code=str(details["price"]["currencyCode"]),
                interval=str(details.get("interval") or "EVERY_30_DAYS"),
            )
        )
    return AppSubscription(
        id=subscription_id,
        name=name.strip(),
        status="PENDING",
        test=bool(test),
        trial_days=trial_days or 0,
        return_url=return_url,
        api_key=api_key,
        line_items=items,
        created_at=now,
        updated_at=now,
    )


def confirmation_url(config: ShopifySandboxConfig, shop: Shop, sub: AppSubscription) -> str:
    return f"{config.shop_base_url(shop.domain)}/admin/charges/{sub.id}/confirm"


def return_url_with_charge(sub: AppSubscription) -> str:
    """`returnUrl` with `charge_id` added (any query it had is kept), as Shopify redirects."""
    parts = urlsplit(sub.return_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "charge_id"]
    query.append(("charge_id", str(sub.id)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def find_subscription(shop: Shop, ident: str) -> AppSubscription | None:
    """By numeric id (the `charge_id`) or global id; only this shop's."""
    numeric = int(ident) if ident.isdigit() else parse_gid(ident, "AppSubscription")
    return shop.app_subscriptions.get(numeric) if numeric is not None else None


def transition(shop: Shop, sub: AppSubscription, status: str, now: datetime) -> list[AppSubscription]:
    """Move `sub` to `status`; the subscriptions that changed (for their webhooks).

    Activating one cancels the app's other ACTIVE subscription in the shop, as Shopify
    replaces a plan when the merchant approves a new one.
    """
    changed: list[AppSubscription] = []
    if status == "ACTIVE":
        for other in shop.app_subscriptions.values():
            if other.id != sub.id and other.api_key == sub.api_key and other.status == "ACTIVE":
                other.status, other.updated_at = "CANCELLED", now
                changed.append(other)
        if sub.current_period_end is None or sub.status != "ACTIVE":
            days = sub.trial_days + max((INTERVAL_DAYS[i.interval] for i in sub.line_items), default=30)
            sub.current_period_end = now + timedelta(days=days)
    sub.status, sub.updated_at = status, now
    changed.append(sub)
    return changed


def webhook_payload(shop: Shop, sub: AppSubscription) -> dict[str, Any]:
    """The body of `app_subscriptions/update`, in Shopify's REST shape."""
    return {
        "app_subscription": {
            "admin_graphql_api_id": gid("AppSubscription", sub.id),
            "name": sub.name,
            "status": sub.status,
            "admin_graphql_api_shop_id": gid("Shop", shop.id),
            "created_at": rest_time(sub.created_at),
            "updated_at": rest_time(sub.updated_at),
            "currency": sub.line_items[0].currency_code if sub.line_items else BASE_BILLING_CURRENCY,
            "capped_amount": None,
        }
    }


def subscription_view(sub: AppSubscription) -> dict[str, Any]:
    """The GraphQL `AppSubscription` (a dict keyed by field name)."""
    return {
        "__typename": "AppSubscription",
        "id": gid("AppSubscription", sub.id),
        "name": sub.name,
        "status": sub.status,
        "test": sub.test,
        "trialDays": sub.trial_days,
        # Shopify: null unless the subscription is active.
        "currentPeriodEnd": sub.current_period_end if sub.status == "ACTIVE" else None,
        "createdAt": sub.created_at,
        "returnUrl": sub.return_url,
        "lineItems": [
            {
                "id": gid("AppSubscriptionLineItem", item.id),
                "plan": {
                    "pricingDetails": {
                        "__typename": "AppRecurringPricing",
                        "price": {"amount": item.amount, "currencyCode": item.currency_code},
                        "interval": item.interval,
                    }
                },
            }
            for item in sub.line_items
        ],
    }


def subscription_json(config: ShopifySandboxConfig, shop: Shop, sub: AppSubscription) -> dict[str, Any]:
    """What the control API lists."""
    return {
        "id": gid("AppSubscription", sub.id),
        "chargeId": sub.id,
        "name": sub.name,
        "status": sub.status,
        "test": sub.test,
        "trialDays": sub.trial_days,
        "returnUrl": sub.return_url,
        "confirmationUrl": confirmation_url(config, shop, sub),
        "lineItems": [
            {"amount": i.amount, "currencyCode": i.currency_code, "interval": i.interval}
            for i in sub.line_items
        ],
        "createdAt": rest_time(sub.created_at),
        "updatedAt": rest_time(sub.updated_at),
        "currentPeriodEnd": rest_time(sub.current_period_end),
    }
