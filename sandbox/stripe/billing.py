"""What happens to subscriptions and invoices: Checkout completion, plan switches,
cancellation, renewals when the clock moves, trial reminders. Shared by the API, the
hosted pages and the control API; every function emits its events (callers dispatch)."""

from __future__ import annotations

import calendar
import copy
import secrets
from datetime import UTC, datetime
from typing import Any

from sandbox.stripe.runtime import StripeSandbox, new_id

LIVE_STATUSES = ("trialing", "active", "past_due", "incomplete", "unpaid")


class BillingError(ValueError):
    """An operation that Stripe would refuse; the message is Stripe's wording."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def add_interval(start: int, interval: str, count: int) -> int:
    if interval == "day":
        return start + 86400 * count
    if interval == "week":
        return start + 7 * 86400 * count
    months = count * (12 if interval == "year" else 1)
    moment = datetime.fromtimestamp(start, UTC)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def _item_json(
    sb: StripeSandbox, sub_id: str, price: dict[str, Any], quantity: int, start: int, end: int
) -> dict[str, Any]:
    return {
        "id": new_id("subscription_item"),
        "object": "subscription_item",
        "created": sb.now(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "price": copy.deepcopy(price),
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }


def items_of(sub: dict[str, Any]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = sub["items"]["data"]
    return data


def period_end(sub: dict[str, Any]) -> int:
    return int(items_of(sub)[0]["current_period_end"])


def subscription_amount(sub: dict[str, Any]) -> int:
    return sum(int(i["price"]["unit_amount"] or 0) * int(i["quantity"]) for i in items_of(sub))


def create_invoice(
    sb: StripeSandbox, sub: dict[str, Any], *, reason: str, start: int, end: int, amount: int | None = None
) -> dict[str, Any]:
    """An invoice for the subscription's current items, paid unless a failure was queued."""
    customer = sb.get(sub["customer"], "customer") or {}
    total = subscription_amount(sub) if amount is None else amount
    failing = reason == "subscription_cycle" and sb.state.failing_payments > 0 and total > 0
    if failing:
        sb.state.failing_payments -= 1
    now = sb.now()
    invoice_id = new_id("invoice")
    lines = [
        {
            "id": "il_" + secrets.token_hex(7),
            "object": "line_item",
            "amount": int(i["price"]["unit_amount"] or 0) * int(i["quantity"]),
            "currency": i["price"]["currency"],
            "description": f"{i['quantity']} x {i['price'].get('nickname') or i['price']['product']}",
            "invoice": invoice_id,
            "metadata": {},
            "period": {"start": start, "end": end},
            "pricing": {
                "type": "price_details",
                "price_details": {"price": i["price"]["id"], "product": i["price"]["product"]},
                "unit_amount_decimal": i["price"]["unit_amount_decimal"],
            },
            "quantity": i["quantity"],
        }
        for i in items_of(sub)
    ]
    invoice = sb.put(
        {
            "id": invoice_id,
            "object": "invoice",
            "account_country": "US",
            "amount_due": total,
            "amount_paid": 0 if failing else total,
            "amount_remaining": total if failing else 0,
            "attempt_count": 1,
            "attempted": True,
            "auto_advance": failing,
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": sub["currency"],
            "customer": sub["customer"],
            "customer_email": customer.get("email"),
            "customer_name": customer.get("name"),
            "hosted_invoice_url": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "url": f"/v1/invoices/{invoice_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": now + 3 * 86400 if failing else None,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            },
            "period_end": end,
            "period_start": start,
            "status": "open" if failing else "paid",
            "status_transitions": {
                "finalized_at": now,
                "marked_uncollectible_at": None,
                "paid_at": None if failing else now,
                "voided_at": None,
            },
            "subtotal": total,
            "total": total,
        }
    )
    sub["latest_invoice"] = invoice_id
    sb.emit("invoice.payment_failed" if failing else "invoice.paid", invoice)
    return invoice


def complete_checkout(sb: StripeSandbox, session: dict[str, Any], email: str | None) -> dict[str, Any]:
    """The buyer paid: customer, subscription, invoice, session complete, events."""
    now = sb.now()
    customer_id = session["customer"]
    if customer_id is None:
        address = email or session.get("customer_email") or "buyer@example.com"
        customer = create_customer(sb, {"email": address})
        customer_id = customer["id"]
    customer = sb.get(customer_id, "customer") or {}
    private = sb.state.session_private.get(session["id"], {})
    sub_data: dict[str, Any] = private.get("subscription_data", {})
    trial_days = int(sub_data.get("trial_period_days") or 0)
    sub_id = new_id("subscription")
    items = []
    for line in private.get("line_items", []):
        price = sb.get(line["price"]["id"], "price") or line["price"]
        rec = price["recurring"] or {"interval": "month", "interval_count": 1}
        end = (
            now + trial_days * 86400
            if trial_days
            else add_interval(now, rec["interval"], rec["interval_count"])
        )
        items.append(_item_json(sb, sub_id, price, int(line["quantity"]), now, end))
    sub = sb.put(
        {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": items[0]["current_period_end"] if trial_days else now,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": now,
            "currency": session["currency"],
            "customer": customer_id,
            "days_until_due": None,
            "default_payment_method": "pm_" + secrets.token_hex(7),
            "description": None,
            "discounts": [],
            "ended_at": None,
            "items": {
                "object": "list",
                "data": items,
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": dict(sub_data.get("metadata") or {}),
            "pending_update": None,
            "start_date": now,
            "status": "trialing" if trial_days else "active",
            "trial_end": items[0]["current_period_end"] if trial_days else None,
            "trial_start": now if trial_days else None,
        }
    )
    sb.emit("customer.subscription.created", sub)
    invoice = None
    if not trial_days:
        invoice = create_invoice(sb, sub, reason="subscription_create", start=now, end=period_end(sub))
    session.update(
        {
            "status": "complete",
            "payment_status": "no_payment_required" if trial_days else "paid",
            "customer": customer_id,
            "customer_details": {"email": customer.get("email"), "name": customer.get("name")},
            "subscription": sub_id,
            "invoice": invoice["id"] if invoice else None,
            "url": None,
        }
    )
    sb.emit("checkout.session.completed", session)
    return sub


def create_customer(sb: StripeSandbox, fields: dict[str, Any]) -> dict[str, Any]:
    return sb.put(
        {
            "id": new_id("customer"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": sb.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": fields.get("description"),
            "email": fields.get("email"),
            "invoice_prefix": secrets.token_hex(4).upper(),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
            "livemode": False,
            "metadata": dict(fields.get("metadata") or {}),
            "name": fields.get("name"),
            "phone": fields.get("phone"),
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
        }
    )


def _snapshot(sub: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(sub)


def _previous(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in before.items() if after.get(k) != v}


def set_cancel_at_period_end(sb: StripeSandbox, sub: dict[str, Any], flag: bool) -> None:
    if sub["status"] == "canceled":
        raise BillingError("A canceled subscription can only update its cancellation_details and metadata.")
    before = _snapshot(sub)
    sub["cancel_at_period_end"] = flag
    sub["cancel_at"] = period_end(sub) if flag else None
    sub["canceled_at"] = sb.now() if flag else None
    sub["cancellation_details"]["reason"] = "cancellation_requested" if flag else None
    if sub != before:
        sb.emit("customer.subscription.updated", sub, _previous(before, sub))


def switch_items(
    sb: StripeSandbox, sub: dict[str, Any], changes: list[dict[str, Any]], proration_behavior: str
) -> None:
    """`changes`: Stripe's `items` param: `{id?, price?, quantity?, deleted?}` each."""
    if sub["status"] == "canceled":
        raise BillingError("A canceled subscription can only update its cancellation_details and metadata.")
    before = _snapshot(sub)
    items = items_of(sub)
    start, end = items[0]["current_period_start"], items[0]["current_period_end"]
    for index, change in enumerate(changes):
        price = None
        if change.get("price") is not None:
            price = sb.get(str(change["price"]), "price")
            if price is None:
                raise BillingError(f"No such price: '{change['price']}'", f"items[{index}][price]")
            if not price["active"]:
                raise BillingError(
                    "The price specified is inactive. This field only accepts active prices.",
                    f"items[{index}][price]",
                )
            if price["recurring"] is None:
                raise BillingError(
                    "The price specified is set to `type=one_time` but this field only accepts prices "
                    "with `type=recurring`.",
                    f"items[{index}][price]",
                )
        quantity = int(change.get("quantity") or 1)
        if change.get("id"):
            item = next((i for i in items if i["id"] == change["id"]), None)
            if item is None:
                raise BillingError(f"No such subscription item: '{change['id']}'", f"items[{index}][id]")
            if str(change.get("deleted", "false")) == "true":
                items.remove(item)
                continue
            if price is not None:
                item["price"] = copy.deepcopy(price)
            if change.get("quantity") is not None:
                item["quantity"] = quantity
        else:
            if price is None:
                raise BillingError("Missing required param: items[0][price].", f"items[{index}][price]")
            items.append(_item_json(sb, sub["id"], price, quantity, start, end))
    if not items:
        raise BillingError("A subscription must have at least one active plan.", "items")
    sub["items"]["total_count"] = len(items)
    if proration_behavior == "always_invoice" and sub["status"] != "trialing":
        create_invoice(sb, sub, reason="subscription_update", start=sb.now(), end=end)
    sb.emit("customer.subscription.updated", sub, _previous(before, sub))


def cancel_now(sb: StripeSandbox, sub: dict[str, Any], at: int | None = None) -> None:
    if sub["status"] == "canceled":
        raise BillingError(f"This subscription has already been canceled: {sub['id']}")
    moment = sb.now() if at is None else at
    sub["status"] = "canceled"
    sub["ended_at"] = moment
    if sub["canceled_at"] is None:
        sub["canceled_at"] = moment
    sub["cancellation_details"]["reason"] = "cancellation_requested"
    sb.emit("customer.subscription.deleted", sub)


def run_clock(sb: StripeSandbox) -> dict[str, int]:
    """Bring every live subscription up to `sb.now()`: renew (invoice.paid or
    invoice.payment_failed + past_due), end trials, end cancel-at-period-end ones."""
    now = sb.now()
    counts = {"renewed": 0, "failed": 0, "canceled": 0}
    for sub in reversed(sb.of_kind("subscription")):
        for _ in range(1000):  # at most this many periods per advance
            if sub["status"] not in LIVE_STATUSES or period_end(sub) > now:
                break
            end = period_end(sub)
            if sub["cancel_at_period_end"]:
                cancel_now(sb, sub, at=end)
                counts["canceled"] += 1
                break
            before = _snapshot(sub)
            for item in items_of(sub):
                rec = item["price"]["recurring"]
                item["current_period_start"] = end
                item["current_period_end"] = add_interval(end, rec["interval"], rec["interval_count"])
            invoice = create_invoice(sb, sub, reason="subscription_cycle", start=end, end=period_end(sub))
            if invoice["status"] == "paid":
                sub["status"] = "active"
                counts["renewed"] += 1
            else:
                sub["status"] = "past_due"
                counts["failed"] += 1
            sb.emit("customer.subscription.updated", sub, _previous(before, sub))
    return counts


def trial_will_end(sb: StripeSandbox, sub: dict[str, Any]) -> None:
    if sub["status"] != "trialing":
        raise BillingError(f"Subscription {sub['id']} is not trialing (status {sub['status']}).")
    sb.emit("customer.subscription.trial_will_end", sub)
