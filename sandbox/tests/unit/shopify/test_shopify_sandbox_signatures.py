"""Webhook and install-link signatures verify with Shopify's documented algorithms.

The verifiers here are written from Shopify's documentation, not from the sandbox's
signing code, so a mistake in either shows up as a failure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from sandbox.shopify.install import install_url, query_hmac
from sandbox.shopify.webhooks import make_event, sign_webhook


def verify_webhook(raw_body: bytes, header: str, secret: str) -> bool:
    """Shopify's recipe: base64(HMAC-SHA256(secret, raw body)) compared in constant time."""
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    try:
        received = base64.b64decode(header, validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(expected, received)


def verify_install_query(url: str, secret: str) -> bool:
    """Shopify's recipe: drop hmac (and signature), sort, join `k=v` with `&`, hex HMAC."""
    pairs = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    received = pairs.pop("hmac", "")
    pairs.pop("signature", None)
    message = "&".join(f"{k}={v}" for k, v in sorted(pairs.items()))
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received)


@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64))
def test_webhook_signature_verifies_over_the_raw_body(body: bytes, secret: str) -> None:
    assert verify_webhook(body, sign_webhook(body, secret), secret)


@given(body=st.binary(min_size=1, max_size=512))
def test_webhook_signature_fails_for_a_changed_body(body: bytes) -> None:
    header = sign_webhook(body, "secret")
    tampered = bytes([body[0] ^ 1]) + body[1:]
    assert not verify_webhook(tampered, header, "secret")


def test_webhook_signature_fails_with_another_secret() -> None:
    assert not verify_webhook(b"{}", sign_webhook(b"{}", "one"), "two")


def test_webhook_event_headers_sign_the_exact_body_it_sends() -> None:
    event = make_event(
        topic="products/update",
        shop="demo-store.myshopify.com",
        api_version="2026-10",
        callback_url="http://127.0.0.1/webhooks",
        payload={"id": 1, "title": "Caf\u00e9 \u2615"},
        event_id="e-1",
        subscription_id=5,
    )
    headers = event.headers("dev-shopify-secret")
    assert verify_webhook(event.body, headers["X-Shopify-Hmac-Sha256"], "dev-shopify-secret")
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Webhook-Id"] == event.webhook_id
    assert headers["Content-Type"] == "application/json"


def test_query_hmac_matches_shopifys_documented_example() -> None:
    # The worked example from Shopify's OAuth documentation (secret "hush").
    # Given out of order on purpose: the pairs must be sorted before signing.
    params = {
        "timestamp": "1337178173",
        "state": "0.6784241404160823",
        "hmac": "ignored",
        "shop": "some-shop.myshopify.com",
        "code": "0907a61c0c8d55e99db179b68161bc00",
    }
    expected = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
    assert query_hmac(params, "hush") == expected


shop_names = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,30}\Z")


@given(name=shop_names, timestamp=st.integers(min_value=0, max_value=2**33))
def test_install_link_verifies_and_carries_shop_host_and_timestamp(name: str, timestamp: int) -> None:
    shop = f"{name}.myshopify.com"
    url = install_url("http://127.0.0.1:8000/", shop, "dev-shopify-secret", timestamp=timestamp)
    assert url.startswith("http://127.0.0.1:8000/shopify/install?")
    assert verify_install_query(url, "dev-shopify-secret")
    assert not verify_install_query(url, "another-secret")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["shop"] == shop
    assert params["timestamp"] == str(timestamp)
    host = params["host"]
    decoded = base64.b64decode(host + "=" * (-len(host) % 4)).decode()
    assert decoded == f"admin.shopify.com/store/{name}"


def test_install_link_rejects_a_changed_shop() -> None:
    url = install_url("http://app", "demo-store.myshopify.com", "s", timestamp=1)
    assert not verify_install_query(url.replace("demo-store", "evil-store"), "s")
