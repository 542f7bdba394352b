"""Alert digests by email: one mail per audience and period that says what needs attention.

A periodic job (`send_digests`, every `ALERT_DIGEST_MINUTES`) gathers, per installed shop whose
merchant has not turned alerts off: a sync that keeps failing (at least
`ALERT_SYNC_FAILURES` unresolved failures not reported yet), Shopify access that can no longer
be refreshed (the refresh token's end, or `Shop.access_lost_at`, which token refresh sets when
Shopify refuses the tokens for good; with the link that re-authorises), a failed
payment; and for the operators
(every admin user): dead letters piling up (at least `ALERT_DEAD_LETTERS` not reported yet).

Each item carries a key; a digest records the items it said, and the next one leaves out what
was said before, so a problem is told once, not every period. A digest is claimed (a row with
a unique key per audience and period) before it is sent and marked sent after: a retry of the
job sends the claimed, unsent digest with the same items and Message-ID, and a second run in
the same period sends nothing. A crash between the SMTP server accepting the mail and the row
being marked can repeat it once (with the same Message-ID); nothing is ever lost.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from alerts.tables import AlertAudience, AlertDigest, AlertSetting
from billing.services import payment_notice
from connectors.errors import ExternalServiceError
from connectors.mail import SYSTEM as SMTP_SYSTEM
from connectors.mail import Mailer
from funnels.tables import Funnel, FunnelStatus
from iam.tables import AdminUser, Shop, ShopConnection
from jobqueue.jobs import JobContext, schedule_once
from jobqueue.tables import Job, JobStatus
from lib.clock import utcnow
from sync.tables import SyncActivity, SyncOutcome

log = structlog.get_logger("funnelsync.alerts")

JOB_SEND_DIGESTS = "alerts.send_digests"
SYNC_FAILURES_KEY = "sync-failures"
DEAD_LETTERS_KEY = "dead-letters"


@dataclass(frozen=True)
class AlertConfig:
    mailer: Mailer
    app_base_url: str
    admin_origin: str  # Shopify's admin (the sandbox's in development)
    app_handle: str = "funnelsync"  # shopify.app.toml's: the admin opens it at /store/{store}/apps/{handle}
    interval: timedelta = timedelta(hours=1)
    sync_failures: int = 3
    dead_letters: int = 10


@dataclass(frozen=True)
class AlertItem:
    key: str  # what stops the next digest from saying it again
    title: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "title": self.title, "text": self.text}


def period_start(now: datetime, interval: timedelta) -> datetime:
    """The start of the digest period holding `now` (periods counted from the epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return now - (now - epoch) % interval


def reauthorise_url(config: AlertConfig, shop_domain: str, connection: str) -> str:
    """Where the merchant gives the app access again: the app opened in their Shopify admin
    (a managed install exchanges a new token there); a custom app's token is entered again."""
    if connection == ShopConnection.ACCESS_TOKEN:
        return f"{config.app_base_url}/connect/"
    store = shop_domain.removesuffix(".myshopify.com")
    return f"{config.admin_origin.rstrip('/')}/store/{store}/apps/{config.app_handle}"


async def email_alerts_on(shop_domain: str) -> bool:
    row = (
        await AlertSetting.select(AlertSetting.email_alerts)
        .where(AlertSetting.shop_domain == shop_domain)
        .first()
    )
    return row is None or bool(row["email_alerts"])


async def set_email_alerts(shop_domain: str, on: bool) -> None:
    updated = (
        await AlertSetting.update({AlertSetting.email_alerts: on, AlertSetting.updated_at: utcnow()})
        .where(AlertSetting.shop_domain == shop_domain)
        .returning(AlertSetting.id)
    )
    if not updated:
        await AlertSetting.insert(AlertSetting(shop_domain=shop_domain, email_alerts=on, updated_at=utcnow()))


async def _reported(audience: AlertAudience, shop_domain: str | None) -> set[str]:
    of = AlertDigest.shop_domain.is_null() if shop_domain is None else AlertDigest.shop_domain == shop_domain
    # Only what was sent: a digest claimed but never sent (its period's retries all failed) has
    # told nobody, so its problems are told by the next one.
    rows = await AlertDigest.select(AlertDigest.items).where(
        (AlertDigest.audience == audience) & of & AlertDigest.sent_at.is_not_null()
    )
    return {item["key"] for row in rows for item in _items_of(row["items"])}


def _items_of(value: Any) -> list[dict[str, str]]:
    items = json.loads(value) if isinstance(value, str) else value
    return list(items or [])


def _last_counted(reported: set[str], prefix: str) -> int:
    """The highest row id a digest already counted under `prefix` ("sync-failures:41")."""
    ids = [int(key.split(":", 1)[1]) for key in reported if key.startswith(f"{prefix}:")]
    return max(ids, default=0)


async def merchant_items(config: AlertConfig, shop: dict[str, Any], now: datetime) -> list[AlertItem]:
    shop_domain: str = shop["domain"]
    reported = await _reported(AlertAudience.MERCHANT, shop_domain)
    items: list[AlertItem] = []

    # Shopify refused the stored tokens for good (iam.tokens deleted them and noted when), or
    # the refresh token reached its end: either way only the merchant can give access again.
    refresh_expires = shop["refresh_token_expires_at"]
    key = None
    if shop["access_lost_at"] is not None:
        key = f"shopify-access:{shop['access_lost_at'].isoformat()}"
    elif refresh_expires is not None and refresh_expires <= now:
        key = f"shopify-access:{refresh_expires.isoformat()}"
    if key is not None:
        items.append(
            AlertItem(
                key,
                "Shopify access has expired",
                "FunnelSync can no longer refresh its access to your store, so nothing is synced. "
                + (
                    "Connect again with a new Admin API access token: "
                    if shop["connection"] == ShopConnection.ACCESS_TOKEN
                    else "Open the app in your Shopify admin to give it access again: "
                )
                + reauthorise_url(config, shop_domain, shop["connection"]),
            )
        )

    failures = (
        await SyncActivity.select(SyncActivity.id, SyncActivity.entity_type, SyncActivity.reason)
        .where(
            (SyncActivity.shop_domain == shop_domain)
            & (SyncActivity.outcome != SyncOutcome.SYNCED)
            & SyncActivity.resolved.eq(False)
            & (SyncActivity.id > _last_counted(reported, SYNC_FAILURES_KEY))
        )
        .order_by(SyncActivity.id)
    )
    if len(failures) >= config.sync_failures:
        live = (
            await Funnel.select(Funnel.id)
            .where((Funnel.shop_domain == shop_domain) & (Funnel.status == FunnelStatus.LIVE))
            .order_by(Funnel.id)
            .first()
        )
        where = f"{config.app_base_url}/funnels/{live['id']}/sync/" if live else f"{config.app_base_url}/app/"
        # By kind and reason, never the label (an email can be one): a digest names no customer.
        kinds = Counter((str(row["entity_type"]), str(row["reason"])) for row in failures)
        examples = "\n".join(
            f"- {entity.capitalize()} ({count}): {reason}" for (entity, reason), count in kinds.most_common(3)
        )
        items.append(
            AlertItem(
                f"{SYNC_FAILURES_KEY}:{failures[-1]['id']}",
                "Your funnel's sync keeps failing",
                f"{len(failures)} changes could not be synced between Shopify and the CRM, most often:\n"
                f"{examples}\nSee what to fix on sync health: {where}",
            )
        )

    notice = await payment_notice(shop_domain, now)
    if notice is not None:
        items.append(
            AlertItem(
                f"payment:{notice.failed_at.isoformat()}",
                "A payment failed",
                f"The payment for your {notice.plan_name} plan failed. "
                + (
                    "Your plan's limits are reduced until it is paid. "
                    if notice.limits_reduced
                    else f"Your plan's limits stay until {notice.grace_ends_at:%d %b %Y}. "
                    if notice.grace_ends_at
                    else ""
                )
                + f"Update your payment details: {config.app_base_url}/billing/",
            )
        )
    return [item for item in items if item.key not in reported]


async def operator_items(config: AlertConfig) -> list[AlertItem]:
    reported = await _reported(AlertAudience.OPERATORS, None)
    dead = (
        await Job.select(Job.id, Job.kind)
        .where((Job.status == JobStatus.DEAD) & (Job.id > _last_counted(reported, DEAD_LETTERS_KEY)))
        .order_by(Job.id)
    )
    if len(dead) < config.dead_letters:
        return []
    kinds: dict[str, int] = {}
    for row in dead:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    by_kind = "\n".join(f"- {kind}: {count}" for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return [
        AlertItem(
            f"{DEAD_LETTERS_KEY}:{max(row['id'] for row in dead)}",
            "Dead letters are piling up",
            f"{len(dead)} jobs failed for good since the last alert:\n{by_kind}\n"
            f"Replay or inspect them: {config.app_base_url}/admin/dead-letters",
        )
    ]


def _compose(items: list[AlertItem]) -> str:
    return "\n\n".join(f"{item.title}\n{item.text}" for item in items) + (
        "\n\n--\nFunnelSync sends one digest at most per period. "
        "Merchants can turn these emails off on the app's dashboard."
    )


async def _deliver(
    config: AlertConfig,
    *,
    key: str,
    audience: AlertAudience,
    shop_domain: str | None,
    start: datetime,
    recipients: list[str],
    subject: str,
    fresh: list[AlertItem],
) -> bool:
    """Claims the period's digest (or finds the one claimed), sends it unless it was sent."""
    claimed = await AlertDigest.select().where(AlertDigest.digest_key == key).first()
    if claimed is None:
        if not fresh:
            return False
        await AlertDigest.insert(
            AlertDigest(
                digest_key=key,
                audience=audience,
                shop_domain=shop_domain,
                period_start=start,
                recipients=", ".join(recipients),
                subject=subject,
                items=[item.as_json() for item in fresh],
            )
        )
        claimed = await AlertDigest.select().where(AlertDigest.digest_key == key).first()
        assert claimed is not None
    if claimed["sent_at"] is not None:
        return False
    items = [AlertItem(i["key"], i["title"], i["text"]) for i in _items_of(claimed["items"])]
    await config.mailer.send(
        [r.strip() for r in claimed["recipients"].split(",") if r.strip()],
        claimed["subject"],
        _compose(items),
        message_id=f"<digest-{claimed['id']}@funnelsync.alerts>",
    )
    await AlertDigest.update({AlertDigest.sent_at: utcnow()}).where(AlertDigest.id == claimed["id"])
    log.info("alert_digest_sent", audience=audience, shop=shop_domain, items=len(items))
    return True


async def send_digests(config: AlertConfig, job: JobContext | None = None) -> None:
    """The periodic job: this period's digests, then the next run."""
    await send_due_digests(config)


async def send_due_digests(config: AlertConfig) -> int:
    """This period's digests not sent yet, then the next run queued; how many were sent.

    One digest failing to send does not hold back the others; the job fails afterwards, so the
    worker's retry sends what failed (the next run is queued first, so a digest that can never
    be sent, an address refused for good, does not end the alerts)."""
    now = utcnow()
    start = period_start(now, config.interval)
    await schedule_once(JOB_SEND_DIGESTS, None, delay=start + config.interval - now)
    if not config.mailer.configured:
        log.info("alerts_not_sent", reason="SMTP_URL is not set")
        return 0
    sent = 0
    failures: list[str] = []

    async def attempt(**digest: Any) -> None:
        nonlocal sent
        try:
            sent += await _deliver(config, start=start, **digest)
        except ExternalServiceError as exc:
            log.warning("alert_digest_not_sent", key=digest["key"], error=str(exc))
            failures.append(f"{digest['key']}: {exc}")

    shops = await Shop.select(
        Shop.domain,
        Shop.name,
        Shop.email,
        Shop.connection,
        Shop.refresh_token_expires_at,
        Shop.access_lost_at,
    ).where(Shop.uninstalled_at.is_null())
    for shop in shops:
        if not shop["email"] or not await email_alerts_on(shop["domain"]):
            continue
        await attempt(
            key=f"{AlertAudience.MERCHANT}:{shop['domain']}:{start.isoformat()}",
            audience=AlertAudience.MERCHANT,
            shop_domain=shop["domain"],
            recipients=[shop["email"]],
            subject=f"FunnelSync: what needs your attention in {shop['name'] or shop['domain']}",
            fresh=await merchant_items(config, shop, now),
        )
    admins = [row["email"] for row in await AdminUser.select(AdminUser.email).order_by(AdminUser.id)]
    if admins:
        await attempt(
            key=f"{AlertAudience.OPERATORS}:{start.isoformat()}",
            audience=AlertAudience.OPERATORS,
            shop_domain=None,
            recipients=admins,
            subject="FunnelSync operators: dead letters are piling up",
            fresh=await operator_items(config),
        )
    if failures:
        raise ExternalServiceError(
            SMTP_SYSTEM, f"{len(failures)} digest(s) not sent: {'; '.join(failures)[:500]}"
        )
    return sent
