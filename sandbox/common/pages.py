"""Tiny server-rendered HTML pages (start pages, the CRM's sign-in landing page).

Plain strings with every value escaped: the pages are a few lines each, not worth a
template engine, and escaping in one place keeps them safe.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Response

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1b1b1b}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left}"
    "code{background:#f3f3f3;padding:0 .2rem}.muted{color:#555}.error{color:#b00020;font-weight:600}"
    "[role=alert]{border:3px solid #b00020;padding:0 1rem;margin:1rem 0}"
)

# The landing page of a login link must not leak its URL onward or be cached.
PRIVATE_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def html_page(
    title: str,
    body: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """`body` is already HTML: build it with `escape` on every value."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(
        content=document,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers=headers or {},
    )


def table(headings: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
