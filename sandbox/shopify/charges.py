"""The merchant's side of the Billing API: the charge confirmation page.

- `GET /shops/{shop}/admin/charges/{charge_id}/confirm`: plan name, price, interval,
  trial, a "Test charge" badge, and *Approve* / *Decline* (POST forms).
- `POST .../approve`: ACTIVE (the app's other ACTIVE charge becomes CANCELLED);
  `POST .../decline`: DECLINED. Both send `app_subscriptions/update` and answer 302 to
  `returnUrl?charge_id=<id>`, as Shopify does.
"""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from sandbox.shopify import billing
from sandbox.shopify.models import AppSubscription, Shop
from sandbox.shopify.oauth import NO_STORE, message_page
from sandbox.shopify.runtime import SandboxDep, ShopifySandbox


class _Missing(Exception):
    def __init__(self, page: Template) -> None:
        super().__init__("charge unavailable")
        self.page = page


def _pending_charge(
    sandbox: ShopifySandbox, shop_domain: str, charge_id: str
) -> tuple[Shop, AppSubscription]:
    shop = sandbox.store.shop(shop_domain)
    if shop is None:
        raise _Missing(
            message_page(404, "Store not found", f"There is no store at {shop_domain} in this sandbox.")
        )
    charge = shop.app_subscriptions.get(int(charge_id)) if charge_id.isdigit() else None
    if charge is None:
        raise _Missing(
            message_page(404, "Charge not found", f"There is no charge {charge_id} in {shop.domain}.")
        )
    if charge.status != "PENDING":
        raise _Missing(
            message_page(
                409,
                "This charge can no longer be approved",
                f"“{charge.name}” is {charge.status.lower()}, not pending.",
                "Ask the app for a new confirmation link.",
            )
        )
    return shop, charge


@get("/shops/{shop_domain:str}/admin/charges/{charge_id:str}/confirm", media_type=MediaType.HTML)
async def confirm_page(shop_domain: FromPath[str], charge_id: FromPath[str], sandbox: SandboxDep) -> Template:
    try:
        shop, charge = _pending_charge(sandbox, shop_domain, charge_id)
    except _Missing as missing:
        return missing.page
    base = f"/shops/{shop.domain}/admin/charges/{charge.id}"
    return Template(
        template_name="charge.html",
        context={
            "app_name": sandbox.config.app_name,
            "store": shop.domain.removesuffix(".myshopify.com"),
            "shop_domain": shop.domain,
            "shop_name": shop.name,
            "plan_name": charge.name,
            "test": charge.test,
            "trial_days": charge.trial_days,
            "items": [
                {
                    "amount": item.amount,
                    "currency_code": item.currency_code,
                    "interval": billing.INTERVAL_LABELS[item.interval],
                }
                for item in charge.line_items
            ],
            "return_url": charge.return_url,
            "approve_action": f"{base}/approve",
            "decline_action": f"{base}/decline",
        },
        headers=NO_STORE,
    )


async def _decide(sandbox: ShopifySandbox, shop_domain: str, charge_id: str, status: str) -> Response[Any]:
    try:
        shop, charge = _pending_charge(sandbox, shop_domain, charge_id)
    except _Missing as missing:
        return missing.page
    now = billing.billing_now(sandbox.config)
    for changed in billing.transition(shop, charge, status, now):
        sandbox.emit(shop, billing.TOPIC, billing.webhook_payload(shop, changed))
    await sandbox.save()
    return Redirect(path=billing.return_url_with_charge(charge), status_code=302, headers=NO_STORE)


@post("/shops/{shop_domain:str}/admin/charges/{charge_id:str}/approve", status_code=302)
async def approve_charge(
    shop_domain: FromPath[str], charge_id: FromPath[str], sandbox: SandboxDep
) -> Response[Any]:
    return await _decide(sandbox, shop_domain, charge_id, "ACTIVE")


@post("/shops/{shop_domain:str}/admin/charges/{charge_id:str}/decline", status_code=302)
async def decline_charge(
    shop_domain: FromPath[str], charge_id: FromPath[str], sandbox: SandboxDep
) -> Response[Any]:
    return await _decide(sandbox, shop_domain, charge_id, "DECLINED")


CHARGE_HANDLERS = [confirm_page, approve_charge, decline_charge]
