"""`create_templates_sandbox(config)`: the template service sandbox as a Litestar app.

Real-service routes: `POST /oauth/token`, `/api/v1/accounts` (create, list, get), the
merchant API (templates, hosts, sites, publish: `sandbox.templates_service.api`), the
public pages (`GET /p/{subdomain}/`, `GET /d/{domain}/`, `GET /previews/{id}.svg`),
`GET /healthz`, `GET /`. Control routes: the common ones (see sandbox.common.app) plus
`GET /_sandbox/accounts`, `GET /_sandbox/sites` and
`POST /_sandbox/sites/{id}/simulate` (simulated traffic: sandbox.templates_service.simulate).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.app import build_sandbox_app
from sandbox.common.clock import iso
from sandbox.common.errors import json_object_body, not_found
from sandbox.common.members import MemberResource, member_handlers
from sandbox.common.pages import html_page, table
from sandbox.templates_service.api import api_handlers, public_handlers, site_json
from sandbox.templates_service.catalogue import TEMPLATES
from sandbox.templates_service.config import TemplatesSandboxConfig
from sandbox.templates_service.runtime import TemplatesSandbox
from sandbox.templates_service.simulate import simulate

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
        route_handlers=[
            *member_handlers(sandbox, ACCOUNTS),
            *api_handlers(sandbox),
            *public_handlers(sandbox),
            *_extra_handlers(sandbox),
        ],
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
        sites = sorted(sandbox.state.sites.values(), key=lambda s: s.seq)
        site_rows = [
            [
                s.id,
                s.owner_id,
                s.template_id,
                str(site_json(s, config.public_base)["view_url"]),
                s.status.value,
                str(s.published.version if s.published else 0),
            ]
            for s in sites
        ]
        previews = "".join(
            f'<li><a href="/previews/{escape(t.id)}.svg">{escape(t.name)}</a> '
            f"<code>{escape(t.id)}</code></li>"
            for t in TEMPLATES
        )
        body = (
            "<h1>Template service sandbox</h1>"
            "<p>Stands in for the funnel page template service in development and tests: "
            "its OAuth 2.0 server (client credentials and JWT bearer grants), merchant "
            "accounts, the template catalogue, hosts, sites and publishing.</p>"
            f"<p>Token endpoint: <code>{escape(config.token_url)}</code>; client "
            f"<code>{escape(config.client_id)}</code>.</p>"
            f"<h2>Accounts ({len(rows)})</h2>"
            + table(["Id", "External id", "Name", "Email", "Created"], rows, "No accounts yet.")
            + f"<h2>Templates ({len(TEMPLATES)})</h2><ul>{previews}</ul>"
            + f"<h2>Sites ({len(site_rows)})</h2>"
            + table(["Id", "Account", "Template", "Address", "Status", "Version"], site_rows, "No sites yet.")
            + '<p class="muted">Control API under <code>/_sandbox/</code>.</p>'
        )
        return html_page("Template service sandbox", body)

    @get("/_sandbox/accounts")
    async def accounts() -> dict[str, Any]:
        members = sorted(sandbox.state.accounts.members.values(), key=lambda m: m.seq)
        return {"data": [{**m.as_json(), "client_id": m.client_id} for m in members]}

    @get("/_sandbox/sites")
    async def sites() -> dict[str, Any]:
        listed = sorted(sandbox.state.sites.values(), key=lambda s: s.seq)
        return {
            "data": [{**site_json(s, sandbox.config.public_base), "account_id": s.owner_id} for s in listed]
        }

    @post("/_sandbox/sites/{site_id:str}/simulate", status_code=200)
    async def simulate_traffic(site_id: FromPath[str], request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Visitors on the published page over past days (sandbox.templates_service.simulate)."""
        site = sandbox.state.sites.get(site_id)
        if site is None:
            raise not_found(f"No site {site_id}.")
        body = await json_object_body(request, optional=True)
        return await simulate(site, body or {}, sandbox.http(), sandbox.now())

    return [start, accounts, sites, simulate_traffic]
