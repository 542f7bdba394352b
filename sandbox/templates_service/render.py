"""Published funnel pages: the template's look around the site's content, as HTML.

The content is rendered the way a page builder renders its blocks: `content.main_offer`,
each of `content.upsells` and `content.downsell` is an offer block (`headline`,
`product_title`, `variant_title`, `image` {`url`, `alt`}, `original_price`, `price`,
`saving`, `available`, `stock`, `call_to_action`); prices are decimal strings, written in
the page's `currency` and `locale` (CLDR, through Babel). Keys a block does not know are
not shown. Blocks of the older free shape (`name`, `price` + `currency`, `compare_at_price`,
`description`, `button_text`) still render. Every value is escaped; only http(s) image URLs
are used. The downsell waits hidden until a shopper follows an upsell's "No, thanks" to
`#downsell` (CSS `:target`: it works without script). The only script is the analytics
beacon of the app that published the page (`content.analytics`: `beacon_url`, `script_url`,
`token`), which the page's CSP allows from that app's origin alone, as a page builder lets a
merchant add a tracking snippet. The page keeps a random visitor id in a first-party cookie
(`fs_vid`, set on the page's own origin) and puts it in the beacon's image request, so a
visit is counted without JavaScript too.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from litestar import Response

from sandbox.common.records import HTTP_URL
from sandbox.templates_service.catalogue import Template
from sandbox.templates_service.state import Publication, Site

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
VISITOR_COOKIE = "fs_vid"
VISITOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,512}$")
NAME_KEYS = ("headline", "name", "title", "product_name", "product_title")
DEFAULT_LOCALE = "en_US"
LOW_STOCK = 10  # "Only 3 left" below this many


def _text(value: Any) -> str:
    return escape(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def babel_locale(tag: Any) -> str | None:
    """A BCP 47 tag (de-DE) as Babel's locale id, or None when CLDR does not know it."""
    if not isinstance(tag, str) or not tag:
        return None
    try:
        return str(Locale.parse(tag.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return None


class Money:
    """Writes amounts in one currency and locale."""

    def __init__(self, currency: Any, locale: Any) -> None:
        self.currency = currency if isinstance(currency, str) and len(currency) == 3 else ""
        self.locale = babel_locale(locale) or DEFAULT_LOCALE

    def __call__(self, amount: Any, currency: Any = None) -> str:
        code = currency if isinstance(currency, str) and len(currency) == 3 else self.currency
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            return _text(amount)
        if not code or not value.is_finite():
            return _text(amount)
        return escape(format_currency(value, code, locale=self.locale))


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value)) if isinstance(value, str | int | float) else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() else None


def render_offer(
    offer: Any,
    money: Money,
    *,
    css_class: str,
    default_button: str,
    decline: str | None = None,
    decline_href: str = "#",
    element_id: str | None = None,
) -> str:
    """One offer block; `decline`: its "No thanks" link's text, leading to `decline_href` (the
    downsell's `#downsell` when the page has one)."""
    id_attribute = f' id="{escape(element_id)}"' if element_id else ""
    if not isinstance(offer, dict):
        return f'<section class="offer {css_class}"{id_attribute}><p>{_text(offer)}</p></section>'
    name = next((_text(offer[k]) for k in NAME_KEYS if _text(offer.get(k))), "")
    product = _text(offer.get("product_title"))
    variant = _text(offer.get("variant_title"))
    offer_id = _text(offer.get("offer_id"))
    tracked = f' data-fs-offer="{offer_id}"' if offer_id else ""
    parts = [f'<section class="offer {css_class}"{id_attribute}{tracked}>']
    block_image = offer.get("image")
    image: dict[str, Any] = block_image if isinstance(block_image, dict) else {"url": offer.get("image_url")}
    url = image.get("url")
    if isinstance(url, str) and HTTP_URL.match(url):
        alt = _text(image.get("alt")) or product or name
        parts.append(f'<img src="{escape(url)}" alt="{alt}" width="320">')
    if name:
        parts.append(f"<h2>{name}</h2>")
    # Under a headline the block names the product; under the product's own title, the variant.
    product_line = " – ".join(part for part in (product if product != name else "", variant) if part)
    if product_line:
        parts.append(f'<p class="product">{product_line}</p>')
    currency = offer.get("currency")
    price = _amount(offer.get("price"))
    if price is not None:
        original = _amount(offer.get("original_price", offer.get("compare_at_price")))
        was = (
            f' <s class="original-price">{money(original, currency)}</s>'
            if original is not None and original > price
            else ""
        )
        parts.append(
            f'<p class="price"><strong class="offer-price">{money(price, currency)}</strong>{was}</p>'
        )
        saving = _amount(offer.get("saving"))
        if saving is None and original is not None:
            saving = original - price
        if saving is not None and saving > 0:
            parts.append(f'<p class="saving">You save {money(saving, currency)}</p>')
    description = _text(offer.get("description"))
    if description:
        parts.append(f'<p class="description">{description}</p>')
    stock = offer.get("stock")
    available = offer.get("available") is not False
    if not available:
        parts.append('<p class="stock sold-out"><strong>Sold out</strong></p>')
    elif isinstance(stock, int) and not isinstance(stock, bool) and 0 < stock < LOW_STOCK:
        parts.append(f'<p class="stock">Only {stock} left</p>')
    button = _text(offer.get("call_to_action")) or _text(offer.get("button_text")) or default_button
    if available:
        href = escape(decline_href)
        no_thanks = (
            f' <a class="decline" href="{href}" data-fs-action="decline">{escape(decline)}</a>'
            if decline
            else ""
        )
        parts.append(f'<p><a class="buy" href="#" data-fs-action="accept">{button}</a>{no_thanks}</p>')
    parts.append("</section>")
    return "".join(parts)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def beacon_html(analytics: Any, visitor: str) -> tuple[str, dict[str, str]]:
    """The beacon's image (with the visitor id) and script, and the CSP sources they need."""
    if not isinstance(analytics, dict):
        return "", {}
    url, script, token = analytics.get("beacon_url"), analytics.get("script_url"), analytics.get("token")
    if not (isinstance(url, str) and HTTP_URL.match(url)):
        return "", {}
    if not (isinstance(token, str) and TOKEN_PATTERN.match(token)):
        return "", {}
    pixel = f"{url}?{urlencode({'t': token, 'k': 'page_view', 'v': visitor})}"
    html = (
        f'<img class="fs-beacon" src="{escape(pixel)}" alt="" width="1" height="1" '
        f'data-fs-beacon="{escape(url)}" data-fs-token="{escape(token)}" data-fs-visitor="{escape(visitor)}">'
    )
    sources = {"connect-src": _origin(url)}
    if isinstance(script, str) and HTTP_URL.match(script):
        html += f'<script src="{escape(script)}" defer></script>'
        sources["script-src"] = _origin(script)
    return html, sources


def visitor_of(cookie: str | None) -> str:
    """The visitor's random id from the page's own cookie, or a new one."""
    return cookie if cookie and VISITOR_PATTERN.match(cookie) else secrets.token_urlsafe(16)


def render_site(
    site: Site, publication: Publication, t: Template, visitor: str | None = None
) -> Response[Any]:
    content = publication.content
    visitor = visitor_of(visitor)
    beacon, sources = beacon_html(content.get("analytics"), visitor)
    title = _text(content.get("title"))
    headline = _text(content.get("headline"))
    upsells = content.get("upsells") or []
    money = Money(content.get("currency"), content.get("locale"))
    lang = (money.locale.split("_")[0]) if babel_locale(content.get("locale")) else "en"
    downsell = content.get("downsell")
    # The downsell waits hidden until a shopper follows an upsell's "No thanks" to #downsell
    # (CSS :target): shown on decline without script.
    downsell_html = (
        '<div class="downsells">'
        + render_offer(
            downsell,
            money,
            css_class="downsell",
            default_button="Yes, I'll take this instead",
            element_id="downsell",
        )
        + "</div>"
        if isinstance(downsell, dict) and upsells
        else ""
    )
    upsell_html = "".join(
        render_offer(
            u,
            money,
            css_class="upsell",
            default_button="Yes, add this to my order",
            decline="No, thanks",
            decline_href="#downsell" if downsell_html else "#",
        )
        for u in upsells
    )
    campaign = _text(content.get("crm_campaign_id"))
    style = (
        f"body{{margin:0;font-family:system-ui,sans-serif;background:{t.background};color:{t.ink};"
        "line-height:1.5}"
        f"header{{background:{t.accent};color:#fff;padding:.5rem 1.5rem;font-size:.9rem}}"
        "main{max-width:48rem;margin:0 auto;padding:1.5rem}"
        ".offer{border-radius:8px;padding:1rem 1.5rem;margin:1.5rem 0;"
        f"border:2px solid {t.accent}}}"
        f".buy{{display:inline-block;background:{t.accent};color:#fff;padding:.6rem 1.2rem;"
        "border-radius:6px;text-decoration:none;font-weight:700}"
        "img{max-width:100%;height:auto}.price{font-size:1.4rem;margin:.25rem 0}"
        ".original-price{opacity:.7;font-size:1rem;margin-left:.5rem}.saving{color:#0a7a3a;font-weight:600}"
        ".sold-out{color:#a00}.product{margin:0;opacity:.8}"
        ".decline{color:inherit}.downsell{display:none}.downsell:target{display:block}"
    )
    document = (
        f'<!doctype html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="funnel-site" content="{escape(site.id)}">'
        f'<meta name="funnel-site-version" content="{publication.version}">'
        f'<meta name="funnel-template" content="{escape(t.id)}">'
        f"<title>{title}</title><style>{style}</style></head>"
        f'<body class="layout-{escape(t.layout)}"><header>{escape(t.name)}</header><main>'
        f"<h1>{title}</h1>"
        + (f'<p class="headline">{headline}</p>' if headline else "")
        + render_offer(content.get("main_offer"), money, css_class="main-offer", default_button="Buy now")
        + (f'<div class="upsells"><h2>Add to your order</h2>{upsell_html}</div>' if upsell_html else "")
        + downsell_html
        + (f'<p class="campaign" data-crm-campaign="{campaign}"></p>' if campaign else "")
        + beacon
        + "</main></body></html>"
    )
    headers = dict(PAGE_HEADERS)
    if sources:
        headers["Content-Security-Policy"] += "".join(
            f"; {name} {origin}" for name, origin in sources.items()
        )
    response: Response[Any] = Response(
        content=document, status_code=200, media_type="text/html; charset=utf-8", headers=headers
    )
    # First-party, on the page's own origin: a random id, nothing about the visitor.
    response.set_cookie(VISITOR_COOKIE, visitor, max_age=60 * 60 * 24 * 365, httponly=False, samesite="lax")
    return response
