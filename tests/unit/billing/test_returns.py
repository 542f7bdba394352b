"""billing.returns: the provider's return URLs keep `then`; after the provider answered, an
upgrade goes on to it and anything else stays on the billing page with the way back."""

from __future__ import annotations

from billing.returns import ReturnTo, after

REVIEW = "/funnels/7/review"


def test_return_urls_carry_then_and_leave_stripes_placeholder_alone() -> None:
    back = ReturnTo("https://app.example", REVIEW)
    assert back.url("/billing/return") == "https://app.example/billing/return?then=%2Ffunnels%2F7%2Freview"
    assert back.url("/billing/checkout/return", raw="session_id={CHECKOUT_SESSION_ID}") == (
        "https://app.example/billing/checkout/return?then=%2Ffunnels%2F7%2Freview&session_id={CHECKOUT_SESSION_ID}"
    )


def test_an_outside_then_is_dropped() -> None:
    back = ReturnTo("https://app.example", "//evil.test/")
    assert back.then is None
    assert (
        back.url("/billing/", outcome="checkout_left") == "https://app.example/billing/?outcome=checkout_left"
    )


def test_after_an_upgrade_the_merchant_goes_on_to_then() -> None:
    assert after("active", REVIEW) == "/funnels/7/review?billing=active"
    assert after("trialing", "/funnels/7/review?from=x") == "/funnels/7/review?from=x&billing=trialing"
    assert after("changed", REVIEW) == "/funnels/7/review?billing=changed"


def test_otherwise_the_billing_page_says_what_happened_and_keeps_the_way_back() -> None:
    assert after("declined", REVIEW) == "/billing/?outcome=declined&then=%2Ffunnels%2F7%2Freview"
    assert after("pending", None) == "/billing/?outcome=pending"
    assert after("active", "https://evil.test/") == "/billing/?outcome=active"
