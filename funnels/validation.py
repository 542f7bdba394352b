"""Checks for what merchants type into the wizard: each problem says how to fix it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from funnels.tables import DiscountType

# Currencies the CRM settles funnels in (ISO 4217).
CURRENCIES: dict[str, str] = {
    "USD": "US dollar",
    "EUR": "Euro",
    "GBP": "British pound",
    "CAD": "Canadian dollar",
    "AUD": "Australian dollar",
    "NZD": "New Zealand dollar",
    "CHF": "Swiss franc",
    "SEK": "Swedish krona",
    "NOK": "Norwegian krone",
    "DKK": "Danish krone",
    "PLN": "Polish złoty",
    "JPY": "Japanese yen",
    "SGD": "Singapore dollar",
    "HKD": "Hong Kong dollar",
    "MXN": "Mexican peso",
    "BRL": "Brazilian real",
    "INR": "Indian rupee",
    "ZAR": "South African rand",
}
# Countries a campaign can sell in (ISO 3166-1 alpha-2), listed by name as merchants look for them.
COUNTRIES: dict[str, str] = {
    "AU": "Australia",
    "AT": "Austria",
    "BE": "Belgium",
    "BR": "Brazil",
    "CA": "Canada",
    "DK": "Denmark",
    "FI": "Finland",
    "FR": "France",
    "DE": "Germany",
    "HK": "Hong Kong",
    "IN": "India",
    "IE": "Ireland",
    "IT": "Italy",
    "JP": "Japan",
    "MX": "Mexico",
    "NL": "Netherlands",
    "NZ": "New Zealand",
    "NO": "Norway",
    "PL": "Poland",
    "PT": "Portugal",
    "SG": "Singapore",
    "ZA": "South Africa",
    "ES": "Spain",
    "SE": "Sweden",
    "CH": "Switzerland",
    "GB": "United Kingdom",
    "US": "United States",
}
NAME_MAX, DESCRIPTION_MAX, HEADLINE_MAX = 120, 2000, 200
DISCOUNT_TYPES = {
    DiscountType.NONE: "No discount",
    DiscountType.PERCENTAGE: "Percentage off",
    DiscountType.FIXED_AMOUNT: "Amount off",
}
SUBDOMAIN = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?\Z")
HOSTNAME = re.compile(r"\A(?=.{4,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")

Errors = dict[str, str]


def currency_refusal(currency: str, store_currency: str | None) -> str | None:
    """Why a campaign cannot sell in `currency`, or None (also when the store's is unknown).

    The CRM products are the store's variants at the store's prices, and a price edited in the
    CRM is written back to the variant: both hold only in the store's own currency. Selling
    19.99 USD as 19.99 EUR would charge shoppers a wrong amount.
    """
    if not store_currency or currency == store_currency:
        return None
    return (
        f"Your store's prices are in {store_currency}: choose {store_currency}. FunnelSync sells at "
        f"your store's own prices and does not convert them to {currency}"
    )


def campaign_errors(
    name: str, description: str, currency: str, country: str, store_currency: str | None = None
) -> Errors:
    errors: Errors = {}
    if not name:
        errors["name"] = "Enter a campaign name"
    elif len(name) > NAME_MAX:
        errors["name"] = f"Campaign name must be {NAME_MAX} characters or fewer (it is {len(name)})"
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = (
            f"Description must be {DESCRIPTION_MAX} characters or fewer (it is {len(description)})"
        )
    if currency not in CURRENCIES:
        errors["currency"] = "Choose the currency your funnel sells in"
    elif refusal := currency_refusal(currency, store_currency):
        errors["currency"] = refusal
    if country not in COUNTRIES:
        errors["country"] = "Choose the country your funnel sells to"
    return errors


def parse_amount(value: str) -> Decimal | None:
    try:
        amount = Decimal(value.strip().replace(",", "."))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def upsell_errors(headline: str, discount_type: str, discount_value: str, price: Decimal | None) -> Errors:
    errors: Errors = {}
    if not headline:
        errors["headline"] = "Enter a headline for the offer, like “Add a second pair for 20% off”"
    elif len(headline) > HEADLINE_MAX:
        errors["headline"] = f"Headline must be {HEADLINE_MAX} characters or fewer (it is {len(headline)})"
    if discount_type not in DISCOUNT_TYPES:
        errors["discount_type"] = "Choose a kind of discount"
    elif discount_type != DiscountType.NONE:
        amount = parse_amount(discount_value)
        if amount is None:
            errors["discount_value"] = "Enter the discount as a number, like 15 or 4.50"
        elif amount <= 0:
            errors["discount_value"] = "The discount must be more than 0, or choose “No discount”"
        elif discount_type == DiscountType.PERCENTAGE and amount > 100:
            errors["discount_value"] = "A percentage discount can be at most 100"
        elif discount_type == DiscountType.FIXED_AMOUNT and price is not None and amount >= price:
            errors["discount_value"] = f"The amount off must be less than the product's price ({price})"
        elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
            errors["discount_value"] = "Use at most two decimal places"
    return errors


def subdomain_error(subdomain: str) -> str | None:
    if not subdomain:
        return "Enter a subdomain, like summer-sale"
    if not SUBDOMAIN.match(subdomain):
        return "Use 3 to 63 lowercase letters, digits or hyphens, not starting or ending with a hyphen"
    return None


def custom_domain_error(domain: str) -> str | None:
    if not domain:
        return "Enter your domain, like offers.example.com"
    if "://" in domain or "/" in domain:
        return "Enter the domain only, without https:// or a path"
    if not HOSTNAME.match(domain):
        return "Enter a domain like offers.example.com"
    return None
