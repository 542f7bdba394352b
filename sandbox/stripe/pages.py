"""The hosted pages: Checkout (`/checkout/{id}`) and the customer portal (`/portal/{id}`).

Plain HTML forms, no script. Checkout accepts the test card 4242 4242 4242 4242 and
declines 4000 0000 0000 0002 (and 4000 0000 0000 9995, insufficient funds), as Stripe's
test mode does; other numbers are refused as invalid.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from sandbox.common.pages import PRIVATE_PAGE_HEADERS, html_page
from sandbox.stripe import billing
from sandbox.stripe.runtime import StripeSandbox

SUCCESS_CARDS = {"4242424242424242", "5555555555554444"}
DECLINES = {
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
}


def money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "—"
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get(currency, "")
    value = f"{amount / 100:,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"


def interval_text(price: dict[str, Any]) -> str:
    rec = price.get("recurring")
    if not rec:
        return "once"
    count = rec["interval_count"]
    return f"per {rec['interval']}" if count == 1 else f"every {count} {rec['interval']}s"


def _product_name(sb: StripeSandbox, price: dict[str, Any]) -> str:
    product = sb.get(price["product"], "product")
    return str(product["name"]) if product else str(price["product"])


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True))


def page_handlers(sb: StripeSandbox) -> list[ControllerRouterHandler]:
    def checkout_page(session: dict[str, Any], error: str | None = None, status: int = 200) -> Response[Any]:
        private = sb.state.session_private.get(session["id"], {})
        trial = private.get("subscription_data", {}).get("trial_period_days")
        rows = "".join(
            f"<tr><td>{escape(_product_name(sb, line['price']))}</td><td>{line['quantity']}</td>"
            f"<td>{escape(money(line['price']['unit_amount'], line['currency']))} "
            f"{escape(interval_text(line['price']))}</td></tr>"
            for line in private.get("line_items", [])
        )
        total = escape(money(session["amount_total"], session["currency"]))
        trial_note = f"<p><strong>{int(trial)}-day free trial</strong>, then {total}.</p>" if trial else ""
        alert = f'<div role="alert"><p class="error">{escape(error)}</p></div>' if error else ""
        email_field = ""
        if session["customer"] is None:
            email_field = (
                '<p><label for="email">Email</label><br>'
                f'<input id="email" name="email" type="email" autocomplete="email" '
                f'value="{escape(session.get("customer_email") or "")}"></p>'
            )
        cancel = (
            f'<p><a href="{escape(session["cancel_url"])}">Cancel and go back</a></p>'
            if session["cancel_url"]
            else ""
        )
        body = (
            f"<h1>Subscribe</h1>{alert}"
            "<table><thead><tr><th>Plan</th><th>Qty</th><th>Price</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><p>Total due: <strong>{total}</strong></p>{trial_note}"
            f'<form method="post" action="/checkout/{escape(session["id"])}/pay">{email_field}'
            '<p><label for="card_number">Card number</label><br>'
            '<input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number" '
            'placeholder="4242 4242 4242 4242" required></p>'
            '<p><button type="submit">Pay and subscribe</button></p></form>'
            f"{cancel}"
            '<p class="muted">Stripe sandbox: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.</p>'
        )
        return html_page("Checkout", body, status_code=status, headers=PRIVATE_PAGE_HEADERS)

    def closed(message: str, status: int) -> Response[Any]:
        return html_page("Checkout", f"<h1>Checkout</h1><p>{escape(message)}</p>", status_code=status)

    @get("/checkout/{session_id:str}")
    async def show_checkout(session_id: FromPath[str]) -> Response[Any]:
        session = sb.get(session_id, "checkout.session")
        if session is None:
            return closed("This checkout session does not exist.", 404)
        if session["status"] != "open" or session["expires_at"] <= sb.now():
            return closed("This checkout session is no longer active.", 410)
        return checkout_page(session)

    @post("/checkout/{session_id:str}/pay", status_code=303)
    async def pay(session_id: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        session = sb.get(session_id, "checkout.session")
        if session is None:
            return closed("This checkout session does not exist.", 404)
        if session["status"] != "open" or session["expires_at"] <= sb.now():
            return closed("This checkout session is no longer active.", 410)
        form = await _form(request)
        card = "".join(ch for ch in form.get("card_number", "") if ch.isdigit())
        if card in DECLINES:
            return checkout_page(session, DECLINES[card], 402)
        if card not in SUCCESS_CARDS:
            return checkout_page(session, "Your card number is invalid.", 400)
        billing.complete_checkout(sb, session, form.get("email") or None)
        sb.dispatch()
        await sb.save()
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
        return Redirect(target, status_code=303)

    def portal_page(portal: dict[str, Any], notice: str | None = None, status: int = 200) -> Response[Any]:
        subs = [
            s
            for s in sb.of_kind("subscription")
            if s["customer"] == portal["customer"] and s["status"] != "canceled"
        ]
        choices = [
            p
            for p in reversed(sb.of_kind("price"))
            if p["active"] and p["recurring"] and (sb.get(p["product"], "product") or {}).get("active")
        ]
        parts = ["<h1>Your subscriptions</h1>"]
        if notice:
            parts.append(f'<p role="status">{escape(notice)}</p>')
        if not subs:
            parts.append('<p class="muted">No active subscriptions.</p>')
        base = f"/portal/{escape(portal['id'])}/subscriptions"
        for sub in subs:
            item = billing.items_of(sub)[0]
            price = item["price"]
            sid = escape(sub["id"])
            state = escape(sub["status"])
            if sub["cancel_at_period_end"]:
                state += " (cancels at the end of the period)"
            options = "".join(
                f'<option value="{escape(p["id"])}"{" selected" if p["id"] == price["id"] else ""}>'
                f"{escape(_product_name(sb, p))}: {escape(money(p['unit_amount'], p['currency']))} "
                f"{escape(interval_text(p))}</option>"
                for p in choices
                if p["currency"] == price["currency"]
            )
            parts.append(
                f'<section aria-labelledby="h-{sid}"><h2 id="h-{sid}">{escape(_product_name(sb, price))}</h2>'
                f"<p>{escape(money(price['unit_amount'], price['currency']))} {escape(interval_text(price))}"
                f" · status: {state}</p>"
                f'<form method="post" action="{base}/{sid}/switch">'
                f'<label for="price-{sid}">Switch plan</label> '
                f'<select id="price-{sid}" name="price">{options}</select> '
                '<button type="submit">Switch plan</button></form>'
            )
            if not sub["cancel_at_period_end"]:
                parts.append(
                    f'<form method="post" action="{base}/{sid}/cancel">'
                    '<button type="submit">Cancel subscription</button></form>'
                )
            parts.append("</section>")
        if portal["return_url"]:
            parts.append(f'<p><a href="{escape(portal["return_url"])}">Return to the app</a></p>')
        return html_page("Billing portal", "".join(parts), status_code=status, headers=PRIVATE_PAGE_HEADERS)

    def portal_or_404(portal_id: str) -> dict[str, Any] | Response[Any]:
        portal = sb.get(portal_id, "billing_portal.session")
        if portal is None:
            return html_page(
                "Billing portal", "<h1>Billing portal</h1><p>Unknown session.</p>", status_code=404
            )
        return portal

    @get("/portal/{portal_id:str}")
    async def show_portal(portal_id: FromPath[str]) -> Response[Any]:
        portal = portal_or_404(portal_id)
        return portal if isinstance(portal, Response) else portal_page(portal)

    def owned_sub(portal: dict[str, Any], sub_id: str) -> dict[str, Any] | None:
        sub = sb.get(sub_id, "subscription")
        return sub if sub is not None and sub["customer"] == portal["customer"] else None

    @post("/portal/{portal_id:str}/subscriptions/{sub_id:str}/cancel", status_code=303)
    async def portal_cancel(portal_id: FromPath[str], sub_id: FromPath[str]) -> Response[Any]:
        portal = portal_or_404(portal_id)
        if isinstance(portal, Response):
            return portal
        sub = owned_sub(portal, sub_id)
        if sub is None:
            return portal_page(portal, "Unknown subscription.", 404)
        try:
            billing.set_cancel_at_period_end(sb, sub, True)
        except billing.BillingError as exc:
            sb.discard_pending()
            return portal_page(portal, str(exc), 400)
        sb.dispatch()
        await sb.save()
        return Redirect(f"/portal/{portal_id}", status_code=303)

    @post("/portal/{portal_id:str}/subscriptions/{sub_id:str}/switch", status_code=303)
    async def portal_switch(
        portal_id: FromPath[str], sub_id: FromPath[str], request: Request[Any, Any, Any]
    ) -> Response[Any]:
        portal = portal_or_404(portal_id)
        if isinstance(portal, Response):
            return portal
        sub = owned_sub(portal, sub_id)
        if sub is None:
            return portal_page(portal, "Unknown subscription.", 404)
        price_id = (await _form(request)).get("price", "")
        price = sb.get(price_id, "price")
        product = sb.get(price["product"], "product") if price else None
        if price is None or not price["active"] or not product or not product["active"]:
            return portal_page(portal, "Choose one of the plans offered.", 400)
        item = billing.items_of(sub)[0]
        if item["price"]["id"] != price_id:
            try:
                billing.switch_items(sb, sub, [{"id": item["id"], "price": price_id}], "create_prorations")
            except billing.BillingError as exc:
                sb.discard_pending()
                return portal_page(portal, str(exc), 400)
        sb.dispatch()
        await sb.save()
        return Redirect(f"/portal/{portal_id}", status_code=303)

    return [show_checkout, pay, show_portal, portal_cancel, portal_switch]
