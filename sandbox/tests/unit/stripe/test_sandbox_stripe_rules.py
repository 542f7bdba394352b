"""Signatures, billing periods and renewal rules, without HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe

from sandbox.common.clock import ManualClock
from sandbox.stripe import billing
from sandbox.stripe.config import StripeSandboxConfig
from sandbox.stripe.runtime import StripeSandbox, new_id, sign


def test_signature_verifies_with_the_sdk_and_fails_with_another_secret() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "invoice.paid", "data": {"object": {}}})
    header = sign(payload.encode(), "whsec_abc", int(time.time()))
    event = stripe.Webhook.construct_event(payload, header, "whsec_abc")
    assert event.type == "invoice.paid"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")
    stale = sign(payload.encode(), "whsec_abc", int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, stale, "whsec_abc")


def test_signature_matches_the_sdks_own_test_header() -> None:
    payload = '{"id": "evt_2"}'
    now = int(time.time())
    expected = stripe.WebhookSignature._compute_signature(f"{now}.{payload}", "whsec_x")
    assert sign(payload.encode(), "whsec_x", now) == f"t={now},v1={expected}"


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [("product", "prod_"), ("price", "price_"), ("customer", "cus_"), ("checkout.session", "cs_test_"),
     ("subscription", "sub_"), ("invoice", "in_"), ("event", "evt_"), ("billing_portal.session", "bps_")],
)  # fmt: skip
def test_ids_have_stripes_prefixes(kind: str, prefix: str) -> None:
    assert new_id(kind).startswith(prefix)


def ts(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


def test_monthly_periods_follow_the_calendar_and_clamp_month_ends() -> None:
    assert billing.add_interval(ts(2026, 1, 31), "month", 1) == ts(2026, 2, 28)
    assert billing.add_interval(ts(2026, 11, 15), "month", 2) == ts(2027, 1, 15)
    assert billing.add_interval(ts(2028, 2, 29), "year", 1) == ts(2029, 2, 28)
    assert billing.add_interval(ts(2026, 3, 1), "week", 1) == ts(2026, 3, 8)


async def _subscribed(sb: StripeSandbox, *, cancel: bool = False) -> dict[str, Any]:
    product = sb.put({"id": "prod_1", "object": "product", "name": "Pro", "active": True})
    price = sb.put(
        {
            "id": "price_1", "object": "price", "product": product["id"], "unit_amount": 1900,
            "unit_amount_decimal": "1900", "currency": "usd", "active": True, "nickname": None,
            "recurring": {"interval": "month", "interval_count": 1},
        }
    )  # fmt: skip
    session = sb.put({"id": "cs_test_1", "object": "checkout.session", "customer": None, "currency": "usd"})
    sb.state.session_private["cs_test_1"] = {"line_items": [{"price": price, "quantity": 1}]}
    sub = billing.complete_checkout(sb, session, "a@b.test")
    if cancel:
        billing.set_cancel_at_period_end(sb, sub, True)
    return sub


async def test_clock_renews_several_periods_at_once() -> None:
    clock = ManualClock(ts(2026, 1, 10))
    sb = StripeSandbox(StripeSandboxConfig(clock=clock))
    sub = await _subscribed(sb)
    clock.advance(95 * 86400)  # Jan 10 -> Apr 15: three renewals
    assert billing.run_clock(sb) == {"renewed": 3, "failed": 0, "canceled": 0}
    assert billing.period_end(sub) == ts(2026, 5, 10)
    invoices = [o for o in sb.of_kind("invoice")]
    assert len(invoices) == 4


async def test_failed_renewal_makes_past_due_and_next_success_recovers() -> None:
    clock = ManualClock(ts(2026, 1, 10))
    sb = StripeSandbox(StripeSandboxConfig(clock=clock))
    sub = await _subscribed(sb)
    sb.state.failing_payments = 1
    clock.advance(32 * 86400)
    assert billing.run_clock(sb)["failed"] == 1
    statuses = [sub["status"]]
    clock.advance(31 * 86400)
    assert billing.run_clock(sb)["renewed"] == 1
    statuses.append(sub["status"])
    assert statuses == ["past_due", "active"]


async def test_cancel_at_period_end_cancels_when_the_period_ends() -> None:
    clock = ManualClock(ts(2026, 1, 10))
    sb = StripeSandbox(StripeSandboxConfig(clock=clock))
    sub = await _subscribed(sb, cancel=True)
    clock.advance(20 * 86400)
    assert billing.run_clock(sb)["canceled"] == 0
    clock.advance(20 * 86400)
    assert billing.run_clock(sb)["canceled"] == 1
    assert sub["status"] == "canceled"
    assert sub["ended_at"] == ts(2026, 2, 10)
