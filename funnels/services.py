"""Funnel drafts: every read and write is scoped by the shop from the merchant's session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.engine.postgres import PostgresEngine

from billing.services import entitlements
from funnels.catalog import VariantChoice
from funnels.tables import DiscountType, Downsell, Funnel, FunnelStatus, HostKind, PublishStep, Upsell
from funnels.validation import (
    Errors,
    campaign_errors,
    custom_domain_error,
    subdomain_error,
    upsell_errors,
)
from funnels.wizard import can_open, done_steps, first_unfinished
from lib.clock import utcnow
from lib.db import write_transaction

UPSELLS_MAX = 5


class FunnelNotFound(Exception):
    """No funnel with that id in the merchant's shop (it may belong to another shop)."""


@dataclass(frozen=True)
class FunnelDraft:
    funnel: dict[str, Any]
    upsells: list[dict[str, Any]]
    # The optional offer shown when an upsell is declined (a Downsell row), or None.
    downsell: dict[str, Any] | None = None

    @property
    def id(self) -> int:
        return int(self.funnel["id"])

    @property
    def done(self) -> frozenset[str]:
        return done_steps(self.funnel, len(self.upsells))

    @property
    def next_step(self) -> str:
        return first_unfinished(self.funnel, len(self.upsells))

    def can_open(self, slug: str) -> bool:
        return can_open(slug, self.funnel, len(self.upsells))

    @property
    def main_product(self) -> VariantChoice | None:
        snapshot = self.funnel["main_product"]
        return VariantChoice.from_snapshot(snapshot) if snapshot else None


async def create_funnel(shop_domain: str) -> int:
    rows = await Funnel.insert(Funnel(shop_domain=shop_domain)).returning(Funnel.id)
    return int(rows[0]["id"])


async def list_funnels(shop_domain: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Funnel.select(
            Funnel.id,
            Funnel.name,
            Funnel.status,
            Funnel.live_url,
            Funnel.published_at,
            Funnel.page_synced_at,
            Funnel.updated_at,
            Funnel.fulfilled_by_crm,
            Funnel.keep_products_synced,
            Funnel.keep_orders_synced,
        )
        .where(Funnel.shop_domain == shop_domain)
        .order_by(Funnel.updated_at, ascending=False)
    )
    return rows


def _scoped(shop_domain: str, funnel_id: int) -> Any:
    return (Funnel.shop_domain == shop_domain) & (Funnel.id == funnel_id)


async def load_draft(shop_domain: str, funnel_id: int) -> FunnelDraft:
    funnel = await Funnel.select().where(_scoped(shop_domain, funnel_id)).output(load_json=True).first()
    if funnel is None:
        raise FunnelNotFound(funnel_id)
    upsells = (
        await Upsell.select()
        .where(Upsell.funnel == funnel_id)
        .order_by(Upsell.position)
        .order_by(Upsell.id)
        .output(load_json=True)
    )
    downsell = await Downsell.select().where(Downsell.funnel == funnel_id).output(load_json=True).first()
    return FunnelDraft(funnel, upsells, downsell)


async def _update(shop_domain: str, funnel_id: int, values: dict[Column | str, Any]) -> None:
    updated = (
        await Funnel.update({**values, Funnel.updated_at: utcnow()})
        .where(_scoped(shop_domain, funnel_id))
        .returning(Funnel.id)
    )
    if not updated:
        raise FunnelNotFound(funnel_id)


async def save_campaign(
    shop_domain: str, funnel_id: int, form: dict[str, str], store_currency: str | None
) -> Errors:
    """Saves the campaign step; its currency must be the store's (`currency_refusal` says why)."""
    errors = campaign_errors(
        form["name"], form["description"], form["currency"], form["country"], store_currency
    )
    if not errors:
        await _update(
            shop_domain,
            funnel_id,
            {
                Funnel.name: form["name"],
                Funnel.description: form["description"],
                Funnel.currency: form["currency"],
                Funnel.country: form["country"],
            },
        )
    return errors


async def choose_main_product(shop_domain: str, funnel_id: int, choice: VariantChoice) -> None:
    await _update(
        shop_domain,
        funnel_id,
        {
            Funnel.main_product_id: choice.product_id,
            Funnel.main_variant_id: choice.variant_id,
            Funnel.main_product: choice.snapshot(),
        },
    )


async def add_upsell(
    shop_domain: str, funnel_id: int, form: dict[str, str], choice: VariantChoice | None
) -> Errors:
    draft = await load_draft(shop_domain, funnel_id)
    errors = upsell_errors(
        form["headline"],
        form["discount_type"],
        form["discount_value"],
        choice.price_amount if choice else None,
    )
    if choice is None:
        errors["variant_id"] = "Choose the product to offer from your store"
    if len(draft.upsells) >= UPSELLS_MAX:
        errors["headline"] = f"A funnel has at most {UPSELLS_MAX} upsells: remove one to add another"
    if errors or choice is None:
        return errors
    async with write_transaction():
        await Upsell.insert(
            Upsell(
                funnel=funnel_id,
                position=len(draft.upsells),
                headline=form["headline"],
                discount_type=form["discount_type"],
                discount_value=form["discount_value"].strip()
                if form["discount_type"] != DiscountType.NONE
                else "0",
                product_id=choice.product_id,
                variant_id=choice.variant_id,
                product=choice.snapshot(),
            )
        )
        await _update(shop_domain, funnel_id, {})
    return {}


async def _renumber(funnel_id: int, ordered_ids: list[int]) -> None:
    for position, upsell_id in enumerate(ordered_ids):
        await Upsell.update({Upsell.position: position}).where(
            (Upsell.id == upsell_id) & (Upsell.funnel == funnel_id)
        )


async def remove_upsell(shop_domain: str, funnel_id: int, upsell_id: int) -> None:
    async with write_transaction():
        draft = await load_draft(shop_domain, funnel_id)
        await Upsell.delete().where((Upsell.id == upsell_id) & (Upsell.funnel == draft.id))
        remaining = [row["id"] for row in draft.upsells if row["id"] != upsell_id]
        await _renumber(draft.id, remaining)
        values: dict[Column | str, Any] = {} if remaining else {Funnel.upsells_confirmed: False}
        await _update(shop_domain, funnel_id, values)


async def move_upsell(shop_domain: str, funnel_id: int, upsell_id: int, direction: str) -> None:
    async with write_transaction():
        draft = await load_draft(shop_domain, funnel_id)
        ids = [row["id"] for row in draft.upsells]
        if upsell_id not in ids:
            return
        index = ids.index(upsell_id)
        target = index - 1 if direction == "up" else index + 1
        if 0 <= target < len(ids):
            ids[index], ids[target] = ids[target], ids[index]
            await _renumber(draft.id, ids)
            await _update(shop_domain, funnel_id, {})


async def save_downsell(
    shop_domain: str, funnel_id: int, form: dict[str, str], choice: VariantChoice | None
) -> Errors:
    """Sets the funnel's one downsell (replacing the one it had), by the upsells' rules.

    It is shown when an upsell is declined, so a funnel needs an upsell before it has one.
    """
    draft = await load_draft(shop_domain, funnel_id)
    errors = upsell_errors(
        form["headline"],
        form["discount_type"],
        form["discount_value"],
        choice.price_amount if choice else None,
    )
    if choice is None:
        errors["variant_id"] = "Choose the product to offer from your store"
    if not draft.upsells:
        errors["headline"] = "Add an upsell first: the downsell is offered when a shopper declines one"
    if errors or choice is None:
        return errors
    values: dict[Column | str, Any] = {
        Downsell.headline: form["headline"],
        Downsell.discount_type: form["discount_type"],
        Downsell.discount_value: form["discount_value"].strip()
        if form["discount_type"] != DiscountType.NONE
        else "0",
        Downsell.product_id: choice.product_id,
        Downsell.variant_id: choice.variant_id,
        Downsell.product: choice.snapshot(),
    }
    async with write_transaction():
        if draft.downsell is None:
            await Downsell.insert(Downsell(funnel=funnel_id))
        await Downsell.update(values).where(Downsell.funnel == funnel_id)
        await _update(shop_domain, funnel_id, {})
    return {}


async def remove_downsell(shop_domain: str, funnel_id: int) -> None:
    async with write_transaction():
        draft = await load_draft(shop_domain, funnel_id)
        await Downsell.delete().where(Downsell.funnel == draft.id)
        await _update(shop_domain, funnel_id, {})


async def confirm_upsells(shop_domain: str, funnel_id: int) -> Errors:
    draft = await load_draft(shop_domain, funnel_id)
    if not draft.upsells:
        return {"headline": "Add at least one upsell offer before you continue"}
    await _update(shop_domain, funnel_id, {Funnel.upsells_confirmed: True})
    return {}


async def choose_template(shop_domain: str, funnel_id: int, template_id: str, template_name: str) -> None:
    await _update(
        shop_domain, funnel_id, {Funnel.template_id: template_id, Funnel.template_name: template_name}
    )


def hosting_errors(kind: str, subdomain: str, custom_domain: str) -> Errors:
    if kind == HostKind.SUBDOMAIN:
        problem = subdomain_error(subdomain)
        return {"subdomain": problem} if problem else {}
    if kind == HostKind.CUSTOM_DOMAIN:
        problem = custom_domain_error(custom_domain)
        return {"custom_domain": problem} if problem else {}
    return {"host_kind": "Choose where your funnel is hosted"}


async def choose_hosting(
    shop_domain: str, funnel_id: int, kind: str, subdomain: str, custom_domain: str
) -> None:
    await _update(
        shop_domain,
        funnel_id,
        {
            Funnel.host_kind: kind,
            Funnel.subdomain: subdomain if kind == HostKind.SUBDOMAIN else None,
            Funnel.custom_domain: custom_domain if kind == HostKind.CUSTOM_DOMAIN else None,
        },
    )


FUNNEL_SETTINGS = {
    "fulfilled_by_crm": Funnel.fulfilled_by_crm,
    "keep_products_synced": Funnel.keep_products_synced,
    "keep_orders_synced": Funnel.keep_orders_synced,
}


async def update_setting(shop_domain: str, funnel_id: int, name: str, enabled: bool) -> None:
    column = FUNNEL_SETTINGS.get(name)
    if column is None:
        raise KeyError(name)
    await _update(shop_domain, funnel_id, {column: enabled})


async def over_plan_limits(shop_domain: str, draft: FunnelDraft) -> Errors | None:
    """Checked on the server at publish: live funnels and upsells per funnel of the shop's plan."""
    limits = await entitlements(shop_domain)
    live_elsewhere = await Funnel.count().where(
        (Funnel.shop_domain == shop_domain) & (Funnel.status == FunnelStatus.LIVE) & (Funnel.id != draft.id)
    )
    if live_elsewhere >= limits.live_funnels:
        return {
            "plan": f"Your {limits.plan_name} plan allows {_count(limits.live_funnels, 'live funnel')}. "
            "Upgrade on the Billing page to publish another."
        }
    if len(draft.upsells) > limits.upsells_per_funnel:
        return {
            "plan": f"Your {limits.plan_name} plan allows {_count(limits.upsells_per_funnel, 'upsell')} per "
            "funnel. Remove some or upgrade on the Billing page."
        }
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


async def remote_ids(funnel_id: int) -> dict[str, str]:
    """The CRM campaign and the page-service site the publish saga made (`campaign_id`,
    `site_id`), from its steps' results: those it got to, when it stopped part-way."""
    ids: dict[str, str] = {}
    steps = (
        await PublishStep.select(PublishStep.result)
        .where(PublishStep.funnel == funnel_id)
        .output(load_json=True)
    )
    for step in steps:
        for key in ("campaign_id", "site_id"):
            if isinstance(step["result"], dict) and step["result"].get(key):
                ids[key] = str(step["result"][key])
    return ids


@asynccontextmanager
async def funnel_page_locked(shop_domain: str, funnel_id: int) -> AsyncIterator[dict[str, Any] | None]:
    """The funnel's row (status, keep_products_synced), locked until the block ends: what is
    done to its page inside happens after, or before, what another holder does, never between.

    Archiving and the live-page refresh both change the page at the page service; each reads
    the status under this lock and acts before letting go, so a refresh cannot republish the
    page of a funnel archived while it was building (PostgreSQL: `FOR UPDATE`; SQLite: the
    write lock, held from the start). The remote calls made inside are short and idempotent.
    """
    async with write_transaction():
        query = Funnel.select(Funnel.id, Funnel.status, Funnel.keep_products_synced).where(
            (Funnel.id == funnel_id) & (Funnel.shop_domain == shop_domain)
        )
        if isinstance(Funnel._meta.db, PostgresEngine):
            query = query.lock_rows("UPDATE")
        yield await query.first()
