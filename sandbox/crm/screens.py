"""The CRM's own screens a merchant reaches through a login link: payment processors.

A login link opens a cookie session (`crm_session`: HttpOnly, SameSite=Lax, Secure on
https) and its landing page links on to the link's `redirect_path`. The screens are
plain HTML forms with no script at all (the CSP says so), each carrying the session's
CSRF token. The merchant adds processors here; the API can only list and link them.

- `GET /settings`, `GET /settings/payment-processors`: the list and the "add" form
- `POST /settings/payment-processors` (form: `csrf_token`, `name`, `kind`) → 303 back
- `POST /settings/payment-processors/{id}/status` (form: `csrf_token`, `status`) → 303 back
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from sandbox.common.clock import iso
from sandbox.common.directory import Member
from sandbox.common.errors import ApiError, FieldError
from sandbox.common.pages import PRIVATE_PAGE_HEADERS, html_page
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.state import PROCESSOR_KINDS, CrmSession, ProcessorStatus
from sandbox.crm.validation import read_processor

SESSION_COOKIE = "crm_session"
PROCESSORS_PATH = "/settings/payment-processors"
SCREEN_HEADERS = {
    **PRIVATE_PAGE_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
KIND_LABELS = {
    "stripe": "Stripe",
    "paypal": "PayPal",
    "authorize_net": "Authorize.net",
    "braintree": "Braintree",
    "nmi": "NMI",
    "adyen": "Adyen",
}
MAX_FORM_BYTES = 16 * 1024


def set_session_cookie(sandbox: CrmSandbox, response: Response[Any], cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=sandbox.config.session_ttl,
        path="/",
        httponly=True,
        samesite="lax",
        secure=sandbox.config.public_base.startswith("https://"),
    )


def screen_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    def signed_in(request: Request[Any, Any, Any]) -> tuple[CrmSession, Member]:
        found = sandbox.session_for(request.cookies.get(SESSION_COOKIE))
        if found is None:
            raise _ScreenError(
                401,
                "Sign in to the CRM",
                "Your CRM session has ended or never started. Go back to the app and choose "
                "“Open CRM” to sign in again.",
            )
        return found

    async def form_of(request: Request[Any, Any, Any], session: CrmSession) -> dict[str, str]:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        raw = await request.body()
        if content_type != "application/x-www-form-urlencoded" or len(raw) > MAX_FORM_BYTES:
            raise _ScreenError(400, "Bad request", "Send the form from the CRM's page.")
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _ScreenError(400, "Bad request", "The form could not be read.") from exc
        if not hmac.compare_digest(form.get("csrf_token", "").encode(), session.csrf_token.encode()):
            raise _ScreenError(403, "This form has expired", "Reload the page and try again.")
        return form

    def processors_page(
        session: CrmSession,
        user: Member,
        *,
        errors: list[FieldError] | None = None,
        kept: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response[Any]:
        processors = sorted(
            (p for p in sandbox.state.processors.values() if p.owner_id == user.id), key=lambda p: p.seq
        )
        csrf = f'<input type="hidden" name="csrf_token" value="{escape(session.csrf_token)}">'
        rows = []
        for p in processors:
            target = (
                ProcessorStatus.INACTIVE if p.status is ProcessorStatus.ACTIVE else ProcessorStatus.ACTIVE
            )
            action = f"{PROCESSORS_PATH}/{escape(p.id)}/status"
            button = "Deactivate" if target is ProcessorStatus.INACTIVE else "Activate"
            rows.append(
                f"<tr><td>{escape(p.name)}</td><td>{escape(KIND_LABELS.get(p.kind, p.kind))}</td>"
                f"<td>{escape(p.status.value)}</td><td><code>{escape(p.id)}</code></td>"
                f"<td>{escape(iso(p.created_at))}</td>"
                f'<td><form method="post" action="{action}">{csrf}'
                f'<input type="hidden" name="status" value="{target.value}">'
                f'<button type="submit">{button}</button></form></td></tr>'
            )
        listing = (
            "<table><thead><tr><th>Name</th><th>Kind</th><th>Status</th><th>Id</th><th>Added</th>"
            f"<th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            if rows
            else '<p class="muted" id="no-processors">No payment processors yet.</p>'
        )
        kept = kept or {}
        by_field = {e.field: e.message for e in errors or []}
        summary = ""
        if errors:
            labels = {"name": "Name", "kind": "Kind"}
            items = "".join(
                f'<li><a href="#{escape(e.field)}">{escape(labels.get(e.field, e.field))}: '
                f"{escape(e.message)}</a></li>"
                for e in errors
            )
            summary = f'<div role="alert"><h2>There is a problem</h2><ul>{items}</ul></div>'

        def error_of(field: str) -> str:
            message = by_field.get(field)
            return f'<p class="error" id="{field}-error">{escape(message)}</p>' if message else ""

        options = "".join(
            f'<option value="{kind}"{" selected" if kept.get("kind") == kind else ""}>'
            f"{escape(KIND_LABELS[kind])}</option>"
            for kind in PROCESSOR_KINDS
        )
        body = (
            f'<p class="muted">Signed in as {escape(user.name)} ({escape(user.shop_domain)})</p>'
            "<h1>Payment processors</h1>"
            f"{summary}{listing}"
            "<h2>Add a payment processor</h2>"
            f'<form method="post" action="{PROCESSORS_PATH}">{csrf}'
            f'<p><label for="name">Name</label><br>{error_of("name")}'
            f'<input id="name" name="name" maxlength="120" value="{escape(kept.get("name", ""))}"></p>'
            f'<p><label for="kind">Kind</label><br>{error_of("kind")}'
            f'<select id="kind" name="kind">{options}</select></p>'
            '<p><button type="submit">Add processor</button></p></form>'
        )
        return html_page("Payment processors", body, status_code=status_code, headers=SCREEN_HEADERS)

    @get("/settings")
    async def settings(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            _session, user = signed_in(request)
        except _ScreenError as problem:
            return problem.page()
        body = (
            f'<p class="muted">Signed in as {escape(user.name)} ({escape(user.shop_domain)})</p>'
            f'<h1>Settings</h1><ul><li><a href="{PROCESSORS_PATH}">Payment processors</a></li></ul>'
        )
        return html_page("Settings", body, headers=SCREEN_HEADERS)

    @get(PROCESSORS_PATH)
    async def show_processors(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            session, user = signed_in(request)
        except _ScreenError as problem:
            return problem.page()
        return processors_page(session, user)

    @post(PROCESSORS_PATH, status_code=303)
    async def add_processor(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            session, user = signed_in(request)
            form = await form_of(request, session)
        except _ScreenError as problem:
            return problem.page()
        try:
            data = read_processor({"name": form.get("name"), "kind": form.get("kind")})
        except ApiError as invalid:
            errors = [FieldError(e["field"], e["message"]) for e in invalid.body["errors"]]
            return processors_page(session, user, errors=errors, kept=form, status_code=422)
        sandbox.add_processor(user.id, name=data.name, kind=data.kind)
        await sandbox.save()
        return Redirect(PROCESSORS_PATH, status_code=303)

    @post(PROCESSORS_PATH + "/{processor_id:str}/status", status_code=303)
    async def set_status(request: Request[Any, Any, Any], processor_id: FromPath[str]) -> Response[Any]:
        try:
            session, user = signed_in(request)
            form = await form_of(request, session)
            processor = sandbox.processor(user.id, processor_id)
            if processor is None:
                raise _ScreenError(404, "No such processor", "It may have been removed.")
            status = ProcessorStatus(form.get("status", ""))
        except _ScreenError as problem:
            return problem.page()
        except ValueError:
            return _ScreenError(400, "Bad request", "Status must be active or inactive.").page()
        processor.status = status
        await sandbox.save()
        return Redirect(PROCESSORS_PATH, status_code=303)

    return [settings, show_processors, add_processor, set_status]


class _ScreenError(Exception):
    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status_code = status_code
        self.title = title
        self.message = message

    def page(self) -> Response[Any]:
        body = f"<h1>{escape(self.title)}</h1><p>{escape(self.message)}</p>"
        return html_page(self.title, body, status_code=self.status_code, headers=SCREEN_HEADERS)
