"""A funnel's end: archiving a published one (page offline, CRM campaign inactive, history
kept) and deleting a draft that never reached the page service or the CRM."""

from __future__ import annotations

from typing import Any

from funnels.services import funnel_page_locked, load_draft, remote_ids
from funnels.split_tests import stop_for_archive
from funnels.tables import Downsell, Funnel, FunnelStatus, PublishStep, Upsell
from iam.clients import ShopClients
from lib.clock import utcnow
from lib.db import write_transaction

# A failed publish may have made a campaign and a site already: those are archived too.
ARCHIVABLE = frozenset({FunnelStatus.LIVE, FunnelStatus.FAILED})


class LifecycleRefused(Exception):
    """The funnel's status does not allow this; the message says why, for the merchant."""


def can_archive(funnel: dict[str, Any]) -> bool:
    return funnel["status"] in ARCHIVABLE


def can_delete(funnel: dict[str, Any]) -> bool:
    return bool(funnel["status"] == FunnelStatus.DRAFT and funnel["published_at"] is None)


async def archive(clients: ShopClients, shop_domain: str, funnel_id: int) -> None:
    """Takes the page offline, stops the campaign taking orders, then marks the funnel archived.

    Both remote calls are idempotent and the status changes last, so a failure part-way
    leaves the funnel as it was (perhaps with its page already offline) and trying again
    finishes the job. Raises ExternalServiceError when a service does not answer.

    All of it happens under the funnel's lock (`funnel_page_locked`), the one a live-page
    refresh writes the page under: a refresh writing now finishes first and its page is then
    taken offline; one that comes later reads ARCHIVED and leaves the page alone.
    """
    await load_draft(shop_domain, funnel_id)  # FunnelNotFound for another shop's funnel
    remote = await remote_ids(funnel_id)
    templates = await clients.templates_for(shop_domain) if "site_id" in remote else None
    crm = await clients.crm_for(shop_domain) if "campaign_id" in remote else None
    async with funnel_page_locked(shop_domain, funnel_id) as funnel:
        if funnel is None or funnel["status"] == FunnelStatus.ARCHIVED:
            return
        if not can_archive(funnel):
            raise LifecycleRefused("Only a live funnel can be archived. Wait until publishing has finished.")
        if templates is not None:
            await templates.unpublish_site(remote["site_id"])
        if crm is not None:
            await crm.deactivate_campaign(remote["campaign_id"])
        # Before the status: a failure here leaves the funnel live, and trying again finishes.
        await stop_for_archive(templates, funnel_id)
        now = utcnow()
        await Funnel.update(
            {Funnel.status: FunnelStatus.ARCHIVED, Funnel.archived_at: now, Funnel.updated_at: now}
        ).where((Funnel.id == funnel_id) & (Funnel.shop_domain == shop_domain))


async def delete_draft(shop_domain: str, funnel_id: int) -> None:
    """Deletes a draft with its upsells. A funnel that was ever published is archived instead:
    its campaign and orders live on in the CRM and its history here."""
    draft = await load_draft(shop_domain, funnel_id)
    if not can_delete(draft.funnel) or await PublishStep.exists().where(PublishStep.funnel == funnel_id):
        raise LifecycleRefused(
            "Only a draft that was never published can be deleted. Archive this one instead."
        )
    # Its offers are deleted outright, not left to the foreign keys' cascade (SQLite applies it
    # only where enabled): a leftover downsell would join the next funnel given the same id.
    async with write_transaction():
        await Upsell.delete().where(Upsell.funnel == draft.id)
        await Downsell.delete().where(Downsell.funnel == draft.id)
        await Funnel.delete().where((Funnel.id == funnel_id) & (Funnel.shop_domain == shop_domain))
