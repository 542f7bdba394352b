"""Split tests of a live funnel (start, the running test's figures, history) and the funnel's
entry address, which sends each visitor to their variant."""

from __future__ import annotations

import re
import secrets
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from funnels import split_tests
from funnels.controllers.publishing import page_templates
from funnels.controllers.shared import Form, form_field
from funnels.services import load_draft
from funnels.split_tests import CHANGE_LABELS, METHOD, MIN_VISITORS_PER_VARIANT
from funnels.validation import DISCOUNT_TYPES
from iam.controllers import Clients, ShopDomain, current_shop

START_FIELDS = (
    "change",
    "b_percent",
    "template_id",
    "headline",
    "upsell_id",
    "discount_type",
    "discount_value",
)
VISITOR_COOKIE = "fs_visitor"
VISITOR_ID = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")
VISITOR_MAX_AGE = 365 * 24 * 3600  # a year: a returning visitor keeps their variant


async def _page(
    shop_domain: str, clients: Clients, funnel_id: int, status_code: int = 200, **context: Any
) -> Template:
    draft = await load_draft(shop_domain, funnel_id)
    current, history = await split_tests.split_tests_of(shop_domain, funnel_id)
    templates, templates_error = await page_templates(clients, shop_domain) if current is None else ([], None)
    return Template(
        template_name="funnels/split_tests.html",
        context={
            "funnel": draft.funnel,
            "upsells": draft.upsells,
            "current": current,
            "history": history,
            "templates": templates,
            "templates_error": templates_error,
            "changes": CHANGE_LABELS,
            "discount_types": DISCOUNT_TYPES,
            "method": METHOD,
            "min_visitors": MIN_VISITORS_PER_VARIANT,
            "errors": {},
            "values": {"b_percent": "50", "change": "headline", "discount_type": "percentage"},
            **context,
        },
        status_code=status_code,
    )


class SplitTestController(Controller):
    path = "/funnels/{funnel_id:int}/split-tests"
    dependencies = {"shop_domain": current_shop}

    @get("/")
    async def show(self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int]) -> Template:
        return await _page(shop_domain, clients, funnel_id)

    @post("/", status_code=303)
    async def start(
        self, shop_domain: ShopDomain, clients: Clients, funnel_id: FromPath[int], data: Form
    ) -> Template | Redirect:
        values = {name: form_field(data, name) for name in START_FIELDS}
        templates, _ = await page_templates(clients, shop_domain)
        errors = await split_tests.start_split_test(
            shop_domain, funnel_id, values, {t.id: t.name for t in templates}
        )
        if errors:
            return await _page(shop_domain, clients, funnel_id, 400, errors=errors, values=values)
        return Redirect(f"/funnels/{funnel_id}/split-tests/", status_code=303)

    @post("/{test_id:int}/winner", status_code=303)
    async def winner(
        self,
        shop_domain: ShopDomain,
        clients: Clients,
        funnel_id: FromPath[int],
        test_id: FromPath[int],
        data: Form,
    ) -> Template | Redirect:
        errors = await split_tests.choose_winner(shop_domain, funnel_id, test_id, form_field(data, "winner"))
        if errors:
            return await _page(shop_domain, clients, funnel_id, 400, errors=errors)
        return Redirect(f"/funnels/{funnel_id}/split-tests/?ended={test_id}", status_code=303)


class FunnelEntryController(Controller):
    """The funnel's public entry address: no session, a random first-party visitor id only."""

    path = "/go"

    @get("/{funnel_id:int}", status_code=302)
    async def enter(self, request: Request[Any, Any, Any], funnel_id: FromPath[int]) -> Redirect:
        visitor = request.cookies.get(VISITOR_COOKIE, "")
        fresh = not VISITOR_ID.match(visitor)
        if fresh:
            visitor = secrets.token_urlsafe(16)
        target = await split_tests.entry_target(funnel_id, visitor)
        if target is None:
            raise NotFoundException()
        cookies = (
            [
                Cookie(
                    key=VISITOR_COOKIE,
                    value=visitor,
                    max_age=VISITOR_MAX_AGE,
                    httponly=True,
                    samesite="lax",
                    secure=request.url.scheme == "https",
                    path="/go",
                )
            ]
            if fresh
            else []
        )
        # Not cached: the same address answers each visitor with their own variant.
        return Redirect(target, status_code=302, cookies=cookies, headers={"Cache-Control": "no-store"})
