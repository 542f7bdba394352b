"""`create_crm_sandbox(config)`: the CRM sandbox as a Litestar app.

Real-service routes: `POST /oauth/token`, `/api/v1/users` (create, list, get),
`POST /api/v1/login-links`, `GET /login/{token}` (HTML), the merchant API (products,
campaigns, offers, payment processors: `sandbox.crm.api`; customers, orders,
fulfillments: `sandbox.crm.sales_api`; webhook subscriptions: `sandbox.crm.webhooks`),
the settings screens a login link opens (`sandbox.crm.screens`), `GET /healthz`, `GET /`.
Control routes (`/_sandbox/...`): the common ones (see sandbox.common.app) plus
`GET /_sandbox/users`, `GET /_sandbox/login-links`, `GET /_sandbox/products`,
`GET /_sandbox/campaigns`, `GET /_sandbox/payment-processors`,
`POST /_sandbox/users/{id}/payment-processors`, the sales ones (`sandbox.crm.control`)
and the webhook ones (`sandbox.crm.webhooks`).
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.app import build_sandbox_app
from sandbox.common.clock import iso
from sandbox.common.errors import FieldError, json_object_body, not_found, validation_failed
from sandbox.common.members import MemberResource, member_handlers
from sandbox.common.oauth import TokenKind
from sandbox.common.pages import PRIVATE_PAGE_HEADERS, html_page, table
from sandbox.common.records import Fields
from sandbox.crm.api import api_handlers
from sandbox.crm.config import CrmSandboxConfig
from sandbox.crm.control import sales_control_handlers
from sandbox.crm.runtime import CrmSandbox, SignIn
from sandbox.crm.sales_api import sales_handlers
from sandbox.crm.screens import screen_handlers, set_session_cookie
from sandbox.crm.state import ProcessorStatus
from sandbox.crm.validation import read_processor
from sandbox.crm.webhooks import webhook_handlers

STATE_KEY = "crm_sandbox"
USERS = MemberResource(
    resource="users",
    singular="user",
    id_prefix="usr",
    read_scope="users:read",
    write_scope="users:write",
)
LOGIN_LINK_SCOPE = "login_links:write"
MAX_REDIRECT_PATH = 512


def create_crm_sandbox(config: CrmSandboxConfig | None = None) -> Litestar:
    sandbox = CrmSandbox(config or CrmSandboxConfig())
    return build_sandbox_app(
        sandbox,
        service="crm",
        state_key=STATE_KEY,
        route_handlers=[
            *member_handlers(sandbox, USERS),
            *_login_link_handlers(sandbox),
            *api_handlers(sandbox),
            *sales_handlers(sandbox),
            *webhook_handlers(sandbox),
            *_page_handlers(sandbox),
            *screen_handlers(sandbox),
            *_control_handlers(sandbox),
            *sales_control_handlers(sandbox),
        ],
    )


def crm_sandbox_of(app: Litestar) -> CrmSandbox:
    """The running sandbox behind an app made by create_crm_sandbox (for tests)."""
    sandbox = app.state[STATE_KEY]
    assert isinstance(sandbox, CrmSandbox)
    return sandbox


def validate_redirect_path(value: object) -> str | list[FieldError]:
    """A path on the CRM itself: never another origin (`//host`, `\\`, a scheme)."""
    if value is None:
        return "/"
    if not isinstance(value, str):
        return [FieldError("redirect_path", "Must be a string.")]
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return [FieldError("redirect_path", "Must be a path on the CRM, starting with one /.")]
    if len(value) > MAX_REDIRECT_PATH:
        return [FieldError("redirect_path", f"Must be at most {MAX_REDIRECT_PATH} characters.")]
    return value


def _login_link_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    @post("/api/v1/login-links", status_code=201)
    async def create_login_link(request: Request[Any, Any, Any]) -> Response[Any]:
        token = sandbox.authenticate(request, kinds=(TokenKind.USER,), scope=LOGIN_LINK_SCOPE)
        body = await json_object_body(request, optional=True)
        redirect_path = validate_redirect_path(body.get("redirect_path"))
        if isinstance(redirect_path, list):
            raise validation_failed(redirect_path)
        assert token.subject is not None  # user tokens always have one
        if sandbox.directory().get(token.subject, token.client_id) is None:
            raise not_found("The token's user no longer exists.")
        minted = sandbox.mint_login_link(
            client_id=token.client_id, user_id=token.subject, redirect_path=redirect_path
        )
        await sandbox.save()
        link = minted.link
        return Response(
            content={
                "url": minted.url,
                "expires_at": iso(link.expires_at),
                "expires_in": round(link.expires_at - link.created_at),
            },
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    return [create_login_link]


def _page_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    @get("/login/{token:str}")
    async def login(token: FromPath[str]) -> Response[Any]:
        result = sandbox.consume_login_link(token)
        if result.outcome is SignIn.SIGNED_IN:
            assert result.user is not None
            assert result.link is not None
            user, link = result.user, result.link
            cookie = sandbox.open_session(link)
            await sandbox.save()
            body = (
                f"<h1>Signed in to the CRM as {escape(user.name)} ({escape(user.shop_domain)})</h1>"
                f"<p>Opened <code>{escape(link.redirect_path)}</code>.</p>"
                f'<p><a id="continue" href="{escape(link.redirect_path)}">Continue</a></p>'
                '<p class="muted">CRM sandbox: the link signed you in; continue to the screen '
                "it opens.</p>"
            )
            response = html_page("Signed in to the CRM", body, headers=PRIVATE_PAGE_HEADERS)
            set_session_cookie(sandbox, response, cookie)
            return response
        if result.outcome is SignIn.ALREADY_USED:
            return _link_problem(410, "This sign-in link has already been used")
        if result.outcome is SignIn.EXPIRED:
            return _link_problem(410, "This sign-in link has expired")
        return _link_problem(404, "This sign-in link does not exist")

    @get("/")
    async def start() -> Response[Any]:
        config = sandbox.config
        users = sorted(sandbox.state.users.members.values(), key=lambda m: m.seq)
        rows = [[u.id, u.external_id, u.name, u.email, iso(u.created_at)] for u in users]
        state = sandbox.state
        campaign_rows = [
            [
                c.id,
                c.owner_id,
                c.name,
                c.currency,
                c.country,
                str(sum(1 for o in state.offers.values() if o.campaign_id == c.id)),
            ]
            for c in sorted(state.campaigns.values(), key=lambda c: c.seq)
        ]
        body = (
            "<h1>CRM sandbox</h1>"
            "<p>Stands in for the shared CRM tenant in development and tests: IAM users, "
            "the OAuth 2.0 server (client credentials and JWT bearer grants), single-use "
            "login links, products, campaigns, offers, payment processors, customers, orders, "
            "fulfillments and signed webhooks.</p>"
            f"<p>Token endpoint: <code>{escape(config.token_url)}</code>; client "
            f"<code>{escape(config.client_id)}</code>; app keys from "
            f"<code>{escape(config.app_jwks_url)}</code>.</p>"
            f"<h2>Users ({len(rows)})</h2>"
            + table(["Id", "External id", "Name", "Email", "Created"], rows, "No users yet.")
            + f"<h2>Campaigns ({len(campaign_rows)})</h2>"
            + table(
                ["Id", "User", "Name", "Currency", "Country", "Offers"], campaign_rows, "No campaigns yet."
            )
            + f"<p>Products: {len(state.products)}; payment processors: {len(state.processors)}; "
            f"customers: {len(state.customers)}; orders: {len(state.orders)}; "
            f"webhook subscriptions: {len(state.webhooks)}.</p>"
            + '<p class="muted">Control API under <code>/_sandbox/</code>.</p>'
        )
        return html_page("CRM sandbox", body)

    return [login, start]


def _link_problem(status_code: int, message: str) -> Response[Any]:
    body = (
        f"<h1>{escape(message)}</h1><p>Go back to the app and choose “Open CRM” again to get a new link.</p>"
    )
    return html_page(message, body, status_code=status_code, headers=PRIVATE_PAGE_HEADERS)


def _control_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    @get("/_sandbox/users")
    async def users() -> dict[str, Any]:
        members = sorted(sandbox.state.users.members.values(), key=lambda m: m.seq)
        return {"data": [{**m.as_json(), "client_id": m.client_id} for m in members]}

    @get("/_sandbox/login-links")
    async def login_links() -> dict[str, Any]:
        now = sandbox.now()
        links = sorted(sandbox.state.login_links.values(), key=lambda link: link.created_at)
        return {"data": [link.as_json(now) for link in links]}

    @get("/_sandbox/products")
    async def products() -> dict[str, Any]:
        listed = sorted(sandbox.state.products.values(), key=lambda p: p.seq)
        return {"data": [{**p.as_json(), "user_id": p.owner_id} for p in listed]}

    @get("/_sandbox/campaigns")
    async def campaigns() -> dict[str, Any]:
        """Every campaign with its owner, offers (in creation order) and linked processors."""
        state = sandbox.state
        offers = sorted(state.offers.values(), key=lambda o: o.seq)
        return {
            "data": [
                {
                    **c.as_json(),
                    "user_id": c.owner_id,
                    "offers": [
                        o.as_json(state.products.get(o.product_id)) for o in offers if o.campaign_id == c.id
                    ],
                    "processor_ids": list(c.processor_ids),
                }
                for c in sorted(state.campaigns.values(), key=lambda c: c.seq)
            ]
        }

    @get("/_sandbox/payment-processors")
    async def processors() -> dict[str, Any]:
        listed = sorted(sandbox.state.processors.values(), key=lambda p: p.seq)
        return {"data": [{**p.as_json(), "user_id": p.owner_id} for p in listed]}

    @post("/_sandbox/users/{user_id:str}/payment-processors", status_code=201)
    async def add_processor(request: Request[Any, Any, Any], user_id: FromPath[str]) -> dict[str, Any]:
        """Body: {"name", "kind", "status": "active" (default) | "inactive"}."""
        user = sandbox.state.users.members.get(user_id)
        if user is None:
            raise not_found(f"No user {user_id}.")
        body = await json_object_body(request, optional=False)
        data = read_processor(body)
        fields = Fields(body)
        status = fields.choice("status", [s.value for s in ProcessorStatus], default="active")
        fields.raise_if_any()
        processor = sandbox.add_processor(
            user.id, name=data.name, kind=data.kind, status=ProcessorStatus(status)
        )
        await sandbox.save()
        return {**processor.as_json(), "user_id": user.id}

    return [users, login_links, products, campaigns, processors, add_processor]
