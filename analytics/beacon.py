"""The live page's beacon: a signed token in the page, and the lean intake that counts events.

At publish the app puts a token in the page's content: the shop, the funnel id and the
split-test variant, with an HMAC-SHA256 under the beacon key (ANALYTICS_BEACON_KEY, else one
derived from SECRET_KEY). The page reports events with it, as an image request (no JavaScript
needed) and through `navigator.sendBeacon` (static/js/beacon.js). An event is counted only
when the signature holds and the funnel is a live funnel of the token's shop (the funnels
domain answers that, handed in as `FunnelShop`). Bots (by user agent) are not counted; a
repeat of an event id, or a view repeated by the same visitor within the reload window, lands
on the same `event_key` and is dropped by the unique index. The visitor is the random
first-party id the page made (a cookie on the page's origin or localStorage): nothing else
about the visitor is stored.

Like the webhook intake, this is a bare ASGI app in front of Litestar: no session, no CSRF
cookie, one INSERT.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from analytics.tables import EventKind, TrafficEvent
from jobqueue.intake import BodyTooLarge, ClientGone, read_body
from lib.clock import utcnow

log = structlog.get_logger("analytics.beacon")

BEACON_PATH = "/beacon"
BEACON_SCRIPT_PATH = "/beacon.js"
# Which live funnel of which shop a funnel id is: None when it is no live funnel.
FunnelShop = Callable[[int], Awaitable[str | None]]
# A transparent 1x1 GIF: what an <img> beacon gets back.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BODY_BYTES = 2048
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OFFER_PATTERN = re.compile(r"^[A-Za-z0-9_:.-]{1,80}$")
# Crawlers, link previews and monitors announce themselves; a visitor hiding that is counted.
BOT_PATTERN = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|embedly|preview|monitor|pingdom|lighthouse"
    r"|curl|wget|python-requests|httpx|go-http-client|java/|okhttp|headlesschrome",
    re.IGNORECASE,
)
# How long the owner of a funnel id is remembered: the intake reads the funnels once a minute,
# not on every event (a funnel archived meanwhile is counted for that minute at most).
OWNER_CACHE_SECONDS = 60.0
MAX_EVENT_AGE = timedelta(days=366)


def derived_key(secret_key: str) -> bytes:
    """The beacon key when none is set: SECRET_KEY's, separated from its other uses."""
    return hmac.new(secret_key.encode(), b"funnelsync analytics beacon", hashlib.sha256).digest()


def beacon_key(configured: str, secret_key: str) -> bytes:
    return configured.encode() if configured else derived_key(secret_key)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signed:
    """What a valid token says: the page is this shop's funnel, this variant of it."""

    shop_domain: str
    funnel_id: int
    variant: str


def sign_token(key: bytes, shop_domain: str, funnel_id: int, variant: str = "") -> str:
    payload = json.dumps([shop_domain, funnel_id, variant], separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def read_token(key: bytes, token: str) -> Signed | None:
    """The token's claims when its signature holds under `key`, else None."""
    try:
        payload_text, mac_text = token.split(".", 1)
        payload = _unb64(payload_text)
        mac = _unb64(mac_text)
    except (ValueError, TypeError):
        return None
    if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).digest(), mac):
        return None
    try:
        shop_domain, funnel_id, variant = json.loads(payload)
    except (ValueError, TypeError):
        return None
    if not isinstance(shop_domain, str) or not isinstance(funnel_id, int) or not isinstance(variant, str):
        return None
    return Signed(shop_domain, funnel_id, variant)


@dataclass(frozen=True)
class BeaconTag:
    """What a live page carries to report its traffic (connectors.templates.PageContent.beacon)."""

    url: str  # the intake: GET it as an image, or POST to it with sendBeacon
    script_url: str
    token: str

    def pixel_url(self, kind: EventKind = EventKind.PAGE_VIEW, offer: str = "") -> str:
        query = {"t": self.token, "k": kind.value} | ({"o": offer} if offer else {})
        return f"{self.url}?{urlencode(query)}"


def beacon_tag(
    key: bytes, app_base_url: str, shop_domain: str, funnel_id: int, variant: str = ""
) -> BeaconTag:
    base = app_base_url.rstrip("/")
    return BeaconTag(
        url=f"{base}{BEACON_PATH}",
        script_url=f"{base}{BEACON_SCRIPT_PATH}",
        token=sign_token(key, shop_domain, funnel_id, variant),
    )


class Refused(Exception):
    """The event is not counted: `status` says why to the page (its console), nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def is_bot(user_agent: str) -> bool:
    return not user_agent or BOT_PATTERN.search(user_agent) is not None


def event_key(
    funnel_id: int,
    kind: EventKind,
    visitor: str,
    offer: str,
    event_id: str,
    at: datetime,
    reload_seconds: int,
) -> str:
    """A page or offer view by the same visitor within the reload window is the same event;
    an accept or decline is the page's event id (a repeat of it is the same event)."""
    if kind in (EventKind.PAGE_VIEW, EventKind.OFFER_VIEW) or not event_id:
        window = int(at.timestamp()) // max(reload_seconds, 1)
        return f"{funnel_id}:{visitor}:{kind.value}:{offer}:{window}"
    return f"{funnel_id}:{event_id}"


class EventWriter:
    """Group commit for the beacon: events arriving together go in one INSERT (one commit).

    Each request is answered once its event is stored, as the webhook intake's InboxWriter
    does; under load one commit serves many beacons instead of one each. A repeated
    `event_key` (within a batch or with a stored event) is dropped by ON CONFLICT DO NOTHING.
    """

    def __init__(self, max_batch: int = 500) -> None:
        self.max_batch = max_batch
        self._pending: list[tuple[TrafficEvent, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def add(self, event: TrafficEvent) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._flusher is None or self._flusher.done():
            # A context of its own: the batch belongs to no single request.
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                await TrafficEvent.insert(*(event for event, _ in batch)).on_conflict(action="DO NOTHING")
            except Exception as exc:  # each waiting request answers with the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


@dataclass
class BeaconIntake:
    """The beacon's ASGI app in front of `app`: /beacon (GET image, POST sendBeacon) and /beacon.js."""

    app: ASGIApp
    key: bytes
    funnel_shop: FunnelShop
    reload_seconds: int = 1800
    script_file: Path | None = None
    # Outside production an event may say when it happened (`ts`, Unix seconds, up to a year
    # back): the page-service sandbox simulates past traffic with it. In production the
    # intake's clock alone decides, so no page can write history.
    accept_event_time: bool = False

    def __post_init__(self) -> None:
        self._writer = EventWriter()
        self._owners: dict[int, tuple[float, str | None]] = {}
        self._script = self.script_file.read_bytes() if self.script_file is not None else b""

    async def _owner(self, funnel_id: int) -> str | None:
        now = time.monotonic()
        cached = self._owners.get(funnel_id)
        if cached is not None and now - cached[0] < OWNER_CACHE_SECONDS:
            return cached[1]
        owner = await self.funnel_shop(funnel_id)
        if len(self._owners) > 10_000:
            self._owners.clear()
        self._owners[funnel_id] = (now, owner)
        return owner

    def _event_time(self, stamp: str) -> datetime:
        now = utcnow()
        if not stamp or not self.accept_event_time:
            return now
        try:
            at = datetime.fromtimestamp(int(stamp), tz=UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise Refused(400, "bad event time") from exc
        if at > now or now - at > MAX_EVENT_AGE:
            raise Refused(400, "event time out of range")
        return at

    async def count(self, params: dict[str, str], user_agent: str) -> bool:
        """Counts one event (a repeat of a stored one vanishes); False for a bot."""
        signed = read_token(self.key, params.get("t", ""))
        if signed is None:
            raise Refused(403, "bad signature")
        if await self._owner(signed.funnel_id) != signed.shop_domain:
            raise Refused(403, "not a live funnel of this shop")
        try:
            kind = EventKind(params.get("k", EventKind.PAGE_VIEW))
        except ValueError as exc:
            raise Refused(400, "unknown event kind") from exc
        offer = params.get("o", "")
        if (kind is EventKind.PAGE_VIEW) != (offer == ""):
            raise Refused(400, "an offer event names its offer, a page view none")
        if offer and not OFFER_PATTERN.match(offer):
            raise Refused(400, "bad offer id")
        visitor, event_id = params.get("v", ""), params.get("e", "")
        if (visitor and not ID_PATTERN.match(visitor)) or (event_id and not ID_PATTERN.match(event_id)):
            raise Refused(400, "bad visitor or event id")
        if is_bot(user_agent):
            return False
        now = self._event_time(params.get("ts", ""))
        if not visitor:
            # A page that could not keep an id (no cookie, no script): this view is its own visitor.
            visitor = secrets.token_urlsafe(12)
        key = event_key(signed.funnel_id, kind, visitor, offer, event_id, now, self.reload_seconds)
        await self._writer.add(
            TrafficEvent(
                event_key=key,
                shop_domain=signed.shop_domain,
                funnel_id=signed.funnel_id,
                variant=signed.variant,
                kind=kind.value,
                offer=offer,
                visitor=visitor,
                occurred_at=now,
            )
        )
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != ScopeType.HTTP or path not in (BEACON_PATH, BEACON_SCRIPT_PATH):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        if path == BEACON_SCRIPT_PATH:
            await _answer(send, 200, self._script, b"text/javascript; charset=utf-8", cache=True)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        if method == "GET":
            params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        elif method == "POST":
            try:
                body = await read_body(receive, MAX_BODY_BYTES)
            except BodyTooLarge:
                await _answer(send, 413, b"too large", b"text/plain")
                return
            except ClientGone:
                return
            params = dict(parse_qsl(body.decode("utf-8", "replace")))
        else:
            await _answer(send, 405, b"method not allowed", b"text/plain")
            return
        try:
            await self.count(params, headers.get("user-agent", ""))
        except Refused as refused:
            log.info("beacon_refused", reason=str(refused), status=refused.status)
            await _answer(send, refused.status, str(refused).encode(), b"text/plain")
            return
        if method == "GET":
            await _answer(send, 200, PIXEL, b"image/gif")
        else:
            await _answer(send, 204, b"", b"text/plain")


async def _answer(send: Send, status: int, body: bytes, content_type: bytes, *, cache: bool = False) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        # Loaded by the live page from another origin: as an image, a script or a beacon.
        (b"cross-origin-resource-policy", b"cross-origin"),
        (b"cache-control", b"public, max-age=3600" if cache else b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
