"""The beacon intake: signed events of a shop's live funnel are counted once; the rest refused."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine

from analytics.beacon import beacon_key, sign_token
from analytics.tables import TrafficEvent
from funnels.tables import Funnel, FunnelStatus
from lib.clock import utcnow
from onboarding.settings import Settings
from tests.support.shops import OTHER_SHOP, SHOP

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


async def live(shop: str) -> int:
    rows = await Funnel.insert(Funnel(shop_domain=shop, name="Tee", status=FunnelStatus.LIVE)).returning(
        Funnel.id
    )
    funnel_id: int = rows[0]["id"]
    return funnel_id


def token(settings: Settings, shop: str, funnel_id: int, variant: str = "") -> str:
    return sign_token(
        beacon_key(settings.analytics_beacon_key, settings.secret_key), shop, funnel_id, variant
    )


async def beacon(client: httpx.AsyncClient, agent: str = BROWSER, **params: str) -> httpx.Response:
    return await client.get("/beacon", params=params, headers={"User-Agent": agent})


async def events() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = await TrafficEvent.select().order_by(TrafficEvent.id)
    return rows


@pytest.mark.postgres
async def test_a_page_view_from_the_pixel_is_counted_and_answered_with_an_image(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    funnel_id = await live(SHOP)

    answer = await beacon(client, t=token(settings, SHOP, funnel_id, "b"), k="page_view", v="visitor-0001")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/gif"
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in answer.headers  # no session, no CSRF cookie for a beacon
    (event,) = await events()
    assert (event["shop_domain"], event["funnel_id"], event["variant"], event["kind"], event["visitor"]) == (
        SHOP,
        funnel_id,
        "b",
        "page_view",
        "visitor-0001",
    )


async def test_a_reload_within_the_window_counts_once_and_after_it_again(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    funnel_id = await live(SHOP)
    signed = token(settings, SHOP, funnel_id)
    start = utcnow().replace(minute=0, second=0, microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        await beacon(client, t=signed, v="visitor-0001")
        clock.shift(timedelta(minutes=5))
        await beacon(client, t=signed, v="visitor-0001")
        await beacon(client, t=signed, v="visitor-0002")
        clock.shift(timedelta(seconds=settings.analytics_reload_window_seconds))
        await beacon(client, t=signed, v="visitor-0001")

    assert [event["visitor"] for event in await events()] == ["visitor-0001", "visitor-0002", "visitor-0001"]


async def test_a_duplicate_event_id_counts_once(client: httpx.AsyncClient, settings: Settings) -> None:
    funnel_id = await live(SHOP)
    fields = {"t": token(settings, SHOP, funnel_id), "k": "offer_accept", "o": "41", "v": "visitor-0001"}

    first = await client.post(
        "/beacon", data={**fields, "e": "event-000001"}, headers={"User-Agent": BROWSER}
    )
    again = await client.post(
        "/beacon", data={**fields, "e": "event-000001"}, headers={"User-Agent": BROWSER}
    )
    other = await client.post(
        "/beacon", data={**fields, "e": "event-000002"}, headers={"User-Agent": BROWSER}
    )

    assert (first.status_code, again.status_code, other.status_code) == (204, 204, 204)
    assert len(await events()) == 2


async def test_a_bad_signature_is_refused_and_not_counted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    funnel_id = await live(SHOP)
    signed = token(settings, SHOP, funnel_id)
    forged = sign_token(b"not the app's key", SHOP, funnel_id)

    answers = [
        await beacon(client, t=forged, v="visitor-0001"),
        await beacon(client, t=signed[:-2] + "AA", v="visitor-0001"),
        await beacon(client, t="", v="visitor-0001"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert await events() == []


@pytest.mark.postgres
async def test_an_event_for_another_shops_funnel_is_refused_and_not_counted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    theirs = await live(OTHER_SHOP)
    archived = await Funnel.insert(Funnel(shop_domain=SHOP, status=FunnelStatus.ARCHIVED)).returning(
        Funnel.id
    )

    answers = [
        # Signed for SHOP (a page of ours), naming another shop's funnel.
        await beacon(client, t=token(settings, SHOP, theirs), v="visitor-0001"),
        await beacon(client, t=token(settings, SHOP, 999_999), v="visitor-0001"),
        await beacon(client, t=token(settings, SHOP, archived[0]["id"]), v="visitor-0001"),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert await events() == []


async def test_bots_are_answered_but_not_counted(client: httpx.AsyncClient, settings: Settings) -> None:
    funnel_id = await live(SHOP)
    signed = token(settings, SHOP, funnel_id)

    answers = [
        await beacon(client, agent="Mozilla/5.0 (compatible; Googlebot/2.1)", t=signed, v="visitor-0001"),
        await beacon(client, agent="", t=signed, v="visitor-0002"),
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert await events() == []


async def test_malformed_events_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    funnel_id = await live(SHOP)
    signed = token(settings, SHOP, funnel_id)

    answers = [
        await beacon(client, t=signed, k="purchase"),
        await beacon(client, t=signed, k="offer_view"),  # no offer
        await beacon(client, t=signed, k="page_view", o="41"),
        await beacon(client, t=signed, v="<script>"),
    ]

    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert await events() == []


async def test_the_beacon_script_is_served_to_other_origins(client: httpx.AsyncClient) -> None:
    answer = await client.get("/beacon.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "sendBeacon" in answer.text
