"""Where a billing provider sends the merchant back to, and what the app says when they are back.

A plan change starts on our billing page and leaves the app (Shopify's charge confirmation,
Stripe's hosted checkout); the provider comes back through the return URL we gave it. `then`
is the page of ours the merchant was on when the plan stopped them (a funnel's Check answers):
after an upgrade they land there, not on the billing page. It is checked by
`lib.paths.local_path` each time it is read (form, return URL), never trusted from the query.

`base` is where this merchant reaches the app: the app's own address standalone, or inside the
Shopify admin the app's page in the admin (`…/store/{store}/apps/{handle}`), which opens the
path in the admin's iframe again with a fresh ID token (the iframe has no cookie to come back to).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from billing.tables import SubscriptionStatus
from lib.paths import local_path

OUTCOMES = {
    "active": "Your new plan is active.",
    "trialing": "Your new plan is active, starting with its free trial.",
    "changed": "Your plan was changed.",
    "declined": "You declined the charge: your plan did not change.",
    "pending": "Your payment provider has not confirmed the subscription yet. Reload this page in a moment.",
    "checkout_left": "You left the checkout: your plan did not change.",
}
# Outcomes after which the merchant goes on where they were: the new plan's limits apply.
UPGRADED = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, "changed"})


def with_query(path: str, **query: str) -> str:
    """`path` with `query` added to any query it has."""
    if not query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode(query)}"


@dataclass(frozen=True)
class ReturnTo:
    base: str  # no trailing slash
    then: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "then", local_path(self.then))

    def url(self, path: str, *, raw: str = "", **query: str) -> str:
        """An absolute URL of ours for a provider; `raw` is appended unencoded (Stripe's
        `{CHECKOUT_SESSION_ID}` placeholder must stay as it is)."""
        if self.then:
            query["then"] = self.then
        url = with_query(f"{self.base}{path}", **query)
        return f"{url}{'&' if '?' in url else '?'}{raw}" if raw else url

    def after(self, outcome: str) -> str:
        """Where the merchant goes once the provider answered (a path of ours): on to `then`
        after an upgrade, else the billing page with the outcome (and `then` kept)."""
        return after(outcome, self.then)


def after(outcome: str, then: str | None) -> str:
    then = local_path(then)
    if then and outcome in UPGRADED:
        return with_query(then, billing=outcome)
    query = {"outcome": outcome, **({"then": then} if then else {})}
    return with_query("/billing/", **query)


def outcome_message(outcome: str | None) -> str | None:
    return OUTCOMES.get(outcome or "")
