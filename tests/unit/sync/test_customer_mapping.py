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
    split_address,
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
