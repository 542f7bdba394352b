"""Customers keep every synced field across Shopify → CRM → Shopify (seeds/003)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.customer_mapping import (
    ADDRESS_SEPARATOR,
    crm_customer_body,
    customer_from_crm,
    customer_from_shopify,
    join_address,
    shopify_customer_input,
    shopify_time,
    split_address,
    with_known,
)

# Words as merchants type them: no leading/trailing spaces and no "|" (the separator's own character).
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="|,"),
    min_size=1,
    max_size=20,
)
maybe_words = st.none() | words
phones = st.none() | st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)


@given(address1=words, address2=maybe_words)
def test_address_and_apartment_survive_the_join_and_split(address1: str, address2: str | None) -> None:
    joined = join_address(address1, address2)
    assert (ADDRESS_SEPARATOR in str(joined)) == (address2 is not None)
    assert split_address(joined) == (address1, address2)


def test_the_apartment_sits_right_of_the_separator() -> None:
    assert join_address("12 Main St", "Apt 4") == "12 Main St||Apt 4"
    assert split_address("12 Main St||Apt 4") == ("12 Main St", "Apt 4")
    assert join_address("12 Main St", "") == "12 Main St"


addresses = st.fixed_dictionaries(
    {
        "first_name": maybe_words,
        "last_name": maybe_words,
        "address1": words,
        "address2": maybe_words,
        "city": maybe_words,
        "province_code": maybe_words,
        "zip": maybe_words,
        "country_code": st.sampled_from(["US", "GB", "DE", "FR"]),
        "phone": phones,
    }
)
shopify_customers = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=1, max_value=10**12),
        "first_name": maybe_words,
        "last_name": maybe_words,
        "email": st.none() | st.emails(),
        "phone": phones,
        "tags": st.lists(words, max_size=4).map(", ".join),
        "email_marketing_consent": st.sampled_from(["subscribed", "not_subscribed"]).map(
            lambda state: {"state": state}
        ),
        "default_address": st.none() | addresses,
        # Billing data is never synced; its presence must change nothing.
        "billing_address": st.none() | addresses,
    }
)


@given(customer=shopify_customers)
def test_a_customer_round_trip_keeps_every_synced_field(customer: dict[str, Any]) -> None:
    canonical = customer_from_shopify(customer)
    crm_body = crm_customer_body(canonical, f"gid://shopify/Customer/{customer['id']}")
    back = shopify_customer_input(customer_from_crm(crm_body), "gid://shopify/Customer/1")

    assert back["firstName"] == customer["first_name"]
    assert back["lastName"] == customer["last_name"]
    assert back["email"] == customer["email"]
    assert back["phone"] == customer["phone"]
    assert set(back["tags"]) == {tag.strip() for tag in customer["tags"].split(",") if tag.strip()}
    subscribed = customer["email_marketing_consent"]["state"] == "subscribed"
    if customer["email"] is None:
        assert "emailMarketingConsent" not in back  # Shopify takes no consent without an email
    else:
        expected_state = "SUBSCRIBED" if subscribed else "UNSUBSCRIBED"
        assert back["emailMarketingConsent"]["marketingState"] == expected_state
    shipping = customer["default_address"]
    if shipping is None:
        assert back["addresses"] == []
    else:
        (address,) = back["addresses"]
        assert (address["address1"], address["address2"]) == (shipping["address1"], shipping["address2"])
        assert address["city"] == shipping["city"]
        assert address["zip"] == shipping["zip"]
        assert address["provinceCode"] == shipping["province_code"]
        assert address["countryCode"] == shipping["country_code"]
        assert address["phone"] == shipping["phone"]
        assert (address["firstName"], address["lastName"]) == (shipping["first_name"], shipping["last_name"])
    # The CRM gets the delivery address with the apartment after the separator, never billing.
    assert crm_body["address"] == (
        None if shipping is None else {**canonical["address"], "phone": shipping["phone"]}
    )


@given(customer=shopify_customers)
def test_the_same_customer_always_maps_to_the_same_crm_content(customer: dict[str, Any]) -> None:
    canonical = customer_from_shopify(customer)
    assert customer_from_crm(crm_customer_body(canonical, "x")) == canonical


# A customers/update body as Shopify documents it since API 2025-01: no `tags`,
# `email_marketing_consent` or `sms_marketing_consent` (64-bit ids as Shopify's are).
DOCUMENTED_CUSTOMER: dict[str, Any] = {
    "id": 7393834213400,
    "admin_graphql_api_id": "gid://shopify/Customer/7393834213400",
    "email": "ann@example.com",
    "first_name": "Ann",
    "last_name": "Lee",
    "phone": None,
    "created_at": "2026-12-07T16:00:00-05:00",
    "updated_at": "2026-12-07T16:30:00-05:00",
    "currency": "USD",
    "state": "enabled",
    "verified_email": True,
    "tax_exempt": False,
    "default_address": None,
}


def test_a_payload_without_consent_or_tags_does_not_know_them() -> None:
    canonical = customer_from_shopify(DOCUMENTED_CUSTOMER)
    assert (canonical["accepts_marketing"], canonical["tags"]) == (None, None)
    assert canonical["email"] == "ann@example.com"


def test_what_a_payload_does_not_know_stays_as_the_crm_holds_it() -> None:
    held = customer_from_crm({"email": "ann@example.com", "accepts_marketing": True, "tags": ["vip"]})
    filled = with_known(customer_from_shopify(DOCUMENTED_CUSTOMER), held)
    assert (filled["accepts_marketing"], filled["tags"]) == (True, ["vip"])
    # A customer new to the CRM gets the defaults, never None.
    new = with_known(customer_from_shopify(DOCUMENTED_CUSTOMER), None)
    assert (new["accepts_marketing"], new["tags"]) == (False, [])
    assert crm_customer_body(new, "x")["tags"] == []


def test_a_payload_that_carries_consent_and_tags_is_taken_as_it_is() -> None:
    customer = {**DOCUMENTED_CUSTOMER, "tags": "", "email_marketing_consent": None}
    held = customer_from_crm({"accepts_marketing": True, "tags": ["vip"]})
    filled = with_known(customer_from_shopify(customer), held)
    assert (filled["accepts_marketing"], filled["tags"]) == (False, [])


def test_shopify_times_compare_as_instants_whatever_their_offset() -> None:
    rest, graphql = shopify_time("2026-12-07T16:30:00-05:00"), shopify_time("2026-12-07T21:30:00Z")
    assert rest is not None
    assert rest == graphql
    assert shopify_time("yesterday") is None
    assert shopify_time(None) is None
