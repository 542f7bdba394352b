"""`create_templates_sandbox(config)`: the template service sandbox as a Litestar app.

Real-service routes: `POST /oauth/token`, `/api/v1/accounts` (create, list, get),
`GET /healthz`, `GET /`. Control routes: the common ones (see sandbox.common.app) plus
`GET /_sandbox/accounts`.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Litestar, Response, get
from litestar.types import ControllerRouterHandler

from sandbox.common.app import build_sandbox_app
from sandbox.common.clock import iso
from sandbox.common.members import MemberResource, member_handlers
from sandbox.common.pages import html_page, table
from sandbox.templates_service.config import TemplatesSandboxConfig
from sandbox.templates_service.runtime import TemplatesSandbox

STATE_KEY = "templates_sandbox"
ACCOUNTS = MemberResource(
    resource="accounts",
    singular="account",
    id_prefix="acc",
    read_scope="accounts:read",
    write_scope="accounts:write",
)


def create_templates_sandbox(config: TemplatesSandboxConfig | None = None) -> Litestar:
    sandbox = TemplatesSandbox(config or TemplatesSandboxConfig())
    return build_sandbox_app(
        sandbox,
        service="templates",
        state_key=STATE_KEY,
        route_handlers=[*member_handlers(sandbox, ACCOUNTS), *_extra_handlers(sandbox)],
    )


def templates_sandbox_of(app: Litestar) -> TemplatesSandbox:
    """The running sandbox behind an app made by create_templates_sandbox (for tests)."""
    sandbox = app.state[STATE_KEY]
    assert isinstance(sandbox, TemplatesSandbox)
    return sandbox


def _extra_handlers(sandbox: TemplatesSandbox) -> list[ControllerRouterHandler]:
    @get("/")
    async def start() -> Response[Any]:
        config = sandbox.config
        accounts = sorted(sandbox.state.accounts.members.values(), key=lambda m: m.seq)
        rows = [[a.id, a.external_id, a.name, a.email, iso(a.created_at)] for a in accounts]
        body = (
            "<h1>Template service sandbox</h1>"
            "<p>Stands in for the funnel page template service in development and tests: "
            "its OAuth 2.0 server (client credentials and JWT bearer grants) and merchant "
            "accounts. Templates, hosts, sites and publishing come later.</p>"
            f"<p>Token endpoint: <code>{escape(config.token_url)}</code>; client "
            f"<code>{escape(config.client_id)}</code>.</p>"
            f"<h2>Accounts ({len(rows)})</h2>"
            + table(["Id", "External id", "Name", "Email", "Created"], rows, "No accounts yet.")
            + '<p class="muted">Control API under <code>/_sandbox/</code>.</p>'
        )
        return html_page("Template service sandbox", body)

    @get("/_sandbox/accounts")
    async def accounts() -> dict[str, Any]:
        members = sorted(sandbox.state.accounts.members.values(), key=lambda m: m.seq)
        return {"data": [{**m.as_json(), "client_id": m.client_id} for m in members]}

    return [start, accounts]
