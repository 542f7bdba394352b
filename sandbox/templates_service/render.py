"""Published funnel pages: the template's look around the site's content, as HTML.

`content.main_offer` and each of `content.upsells` are free JSON objects. The page shows
their usual keys (`name`/`title`/`headline`, `price` + `currency`, `compare_at_price`,
`image_url`, `description`, `button_text`) and lists any other plain values, so whatever
the app sent is visible. Every value is escaped; only http(s) image URLs are used.
No script: the page's CSP forbids it.
"""

from __future__ import annotations

from html import escape
from typing import Any

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
NAME_KEYS = ("name", "title", "headline", "product_name")
SHOWN_KEYS = frozenset(
    {*NAME_KEYS, "price", "currency", "compare_at_price", "image_url", "description", "button_text"}
)


def _text(value: Any) -> str:
    return escape(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def render_offer(offer: Any, *, css_class: str, default_button: str) -> str:
    if not isinstance(offer, dict):
        return f'<section class="offer {css_class}"><p>{_text(offer)}</p></section>'
    name = next((_text(offer[k]) for k in NAME_KEYS if _text(offer.get(k))), "")
    parts = [f'<section class="offer {css_class}">']
    image = offer.get("image_url")
    if isinstance(image, str) and HTTP_URL.match(image):
        parts.append(f'<img src="{escape(image)}" alt="{name}" width="320">')
    if name:
        parts.append(f"<h2>{name}</h2>")
    price = _text(offer.get("price"))
    if price:
        currency = _text(offer.get("currency"))
        compare = _text(offer.get("compare_at_price"))
        was = f' <s class="compare-at">{compare} {currency}</s>' if compare else ""
        parts.append(f'<p class="price"><strong>{price} {currency}</strong>{was}</p>')
    description = _text(offer.get("description"))
    if description:
        parts.append(f'<p class="description">{description}</p>')
    extras = [
        (key, _text(value))
        for key, value in offer.items()
        if key not in SHOWN_KEYS and isinstance(key, str) and _text(value)
    ]
    if extras:
        items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in extras)
        parts.append(f'<dl class="details">{items}</dl>')
    button = _text(offer.get("button_text")) or default_button
    parts.append(f'<p><a class="buy" href="#">{button}</a></p></section>')
    return "".join(parts)


def render_site(site: Site, publication: Publication, t: Template) -> Response[Any]:
    content = publication.content
    title = _text(content.get("title"))
    headline = _text(content.get("headline"))
    upsells = content.get("upsells") or []
    upsell_html = "".join(
        render_offer(u, css_class="upsell", default_button="Yes, add this to my order") for u in upsells
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
        "img{max-width:100%;height:auto}.details dt{font-weight:600}"
    )
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="funnel-site" content="{escape(site.id)}">'
        f'<meta name="funnel-site-version" content="{publication.version}">'
        f'<meta name="funnel-template" content="{escape(t.id)}">'
        f"<title>{title}</title><style>{style}</style></head>"
        f'<body class="layout-{escape(t.layout)}"><header>{escape(t.name)}</header><main>'
        f"<h1>{title}</h1>"
        + (f'<p class="headline">{headline}</p>' if headline else "")
        + render_offer(content.get("main_offer"), css_class="main-offer", default_button="Buy now")
        + (f'<div class="upsells"><h2>Add to your order</h2>{upsell_html}</div>' if upsell_html else "")
        + (f'<p class="campaign" data-crm-campaign="{campaign}"></p>' if campaign else "")
        + "</main></body></html>"
    )
    return Response(
        content=document, status_code=200, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )
