"""The embedded app home (iam/app_home.py) through the app over HTTP, with the Shopify sandbox as
Shopify: every request inside the admin's iframe verified by Shopify's package by its ID token,
the first load of a shop installed the Shopify-managed way exchanging its ID token for an
expiring offline token, and every forged, stale or misdirected token refused with the package's
own answer and nothing stored."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from litestar import get
from litestar.di import Provide

from funnels.tables import Funnel
from iam.app_home import AppHomeVisit, ensure_connected, package_request, verify_app_home
from iam.context import IamContext
from iam.controllers import ShopDomain, current_shop
from iam.provisioning import JOB_PROVISION_ACCOUNT
from iam.tables import ExternalAccount, MerchantSession, Shop
from iam.tokens import ShopNotConnected, token_lock_key
from jobqueue.tables import Job
from lib.clock import utcnow
from tests.support.funnel_wizard import CAMPAIGN
from tests.support.id_tokens import app_home_query, bearer, id_token
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy
from tests.support.shops import OTHER_SHOP, SHOP, iam_of, installed
from tests.support.stack import Stack, running_stack

SANDBOX_ADMIN = "http://shopify.test"
STAND_IN = "http://shopify.test/app-bridge.js"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(
        database_url, shopify_app_bridge_url=STAND_IN, shopify_admin_origin=SANDBOX_ADMIN
    ) as running:
        yield running


async def managed_install(stack: Stack, shop: str = SHOP) -> None:
    """What the admin's Install button does: the toml's scopes granted, no OAuth, no token yet."""
    answer = await stack.shopify.post(f"/_sandbox/shops/{shop}/app-installation")
    assert answer.status_code == 200, answer.text


async def sandbox_id_token(stack: Stack, shop: str = SHOP) -> str:
    minted = await stack.shopify.post(f"/_sandbox/shops/{shop}/id-tokens", json={})
    assert minted.status_code == 201, minted.text
    return str(minted.json()["idToken"])


async def token_exchanges(stack: Stack) -> list[dict[str, object]]:
    answer = await stack.shopify.get(
        "/_sandbox/oauth/requests",
        params={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"},
    )
    requests: list[dict[str, object]] = answer.json()["requests"]
    return requests


async def nothing_stored() -> None:
    assert await Shop.count() == 0
    assert await Job.count() == 0
    assert await MerchantSession.count() == 0


async def test_first_load_of_a_managed_install_exchanges_the_id_token_and_installs_the_shop(
    stack: Stack,
) -> None:
    await managed_install(stack)
    token = await sandbox_id_token(stack)
    page = await stack.client.get("/app/", params=app_home_query(SHOP, token))

    assert page.status_code == 200, page.text
    assert '<meta name="shopify-api-key" content="dev-shopify-key">' in page.text
    assert f'<script src="{STAND_IN}"></script>' in page.text
    assert 'hx-boost="true"' in page.text
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors https://{SHOP} {SANDBOX_ADMIN}" in policy  # this shop's admin only
    assert "script-src 'self' http://shopify.test" in policy
    assert "set-cookie" not in page.headers or "funnelsync_session" not in page.headers["set-cookie"]
    assert len(await token_exchanges(stack)) == 1
    shop = await Shop.select(Shop.access_token, Shop.refresh_token, Shop.access_token_expires_at).first()
    assert shop is not None
    assert shop["access_token"]
    assert shop["refresh_token"]
    assert shop["access_token_expires_at"] is not None  # an expiring offline token
    assert not shop["access_token"].startswith("shpat_")  # encrypted in the vault
    assert await Job.count() > 0  # what install runs: webhooks, CRM and page-service sign-ups
    assert await MerchantSession.count() == 0  # nothing rests on a cookie inside the iframe

    # The next load (and an htmx request) finds the token: no second exchange.
    again = await stack.client.get("/app/", params=app_home_query(SHOP, await sandbox_id_token(stack)))
    swapped = await stack.client.get("/setup/progress", headers=bearer(await sandbox_id_token(stack)))
    assert (again.status_code, swapped.status_code) == (200, 200)
    assert len(await token_exchanges(stack)) == 1


async def test_the_apps_url_opened_in_the_admin_goes_to_the_dashboard_keeping_the_admins_parameters(
    stack: Stack,
) -> None:
    await managed_install(stack)
    query = app_home_query(SHOP, await sandbox_id_token(stack))
    home = await stack.client.get("/", params=query)
    assert home.status_code == 302
    assert home.headers["location"].startswith("/app/?embedded=1&")
    assert f"shop={SHOP}" in home.headers["location"]


@pytest.mark.parametrize(
    ("case", "make_token"),
    [
        ("expired", lambda: id_token(SHOP, ttl=-120)),
        ("signed with another secret", lambda: id_token(SHOP, secret="not-our-secret")),
        ("aud of another app", lambda: id_token(SHOP, aud="another-apps-client-id")),
    ],
)
async def test_a_bad_id_token_is_refused_with_the_packages_answer_and_nothing_is_stored(
    stack: Stack, case: str, make_token: object
) -> None:
    await managed_install(stack)
    token = make_token()  # type: ignore[operator]
    page = await stack.client.get("/app/", params=app_home_query(SHOP, token))
    fetch = await stack.client.get("/setup/progress", headers=bearer(token))
    posted = await stack.client.post("/funnels/", headers=bearer(token))

    # A page load is sent for a fresh token (the patch page), the same address without the token.
    if case == "aud of another app":
        assert page.status_code == 401
    else:
        assert page.status_code == 302, case
        location = page.headers["location"]
        assert location.startswith("http://app.test/auth/patch-id-token?")
        assert "id_token" not in location
        assert "shopify-reload=%2Fapp%3Fembedded%3D1%26shop" in location
    for answer in (fetch, posted):
        assert answer.status_code == 401, case
        assert answer.headers["x-shopify-retry-invalid-session-request"] == "1"
        assert answer.text == "Unauthorized"
        assert "Traceback" not in answer.text
    assert await token_exchanges(stack) == []
    await nothing_stored()


async def test_a_missing_token_sends_a_page_load_to_the_patch_page_and_an_htmx_request_gets_401(
    stack: Stack,
) -> None:
    # A link followed inside the iframe: the browser says it loads a frame, but no token came.
    page = await stack.client.get(
        "/funnels/1/campaign?shop=demo-store.myshopify.com", headers={"Sec-Fetch-Dest": "iframe"}
    )
    assert page.status_code == 302
    assert page.headers["location"] == (
        "http://app.test/auth/patch-id-token?shop=demo-store.myshopify.com"
        "&shopify-reload=%2Ffunnels%2F1%2Fcampaign%3Fshop%3Ddemo-store.myshopify.com"
    )
    fetch = await stack.client.get(
        "/setup/progress", headers={"Authorization": "Basic x", "HX-Request": "true"}
    )
    assert fetch.status_code == 401
    assert fetch.headers["x-shopify-retry-invalid-session-request"] == "1"
    await nothing_stored()


async def test_the_patch_page_is_the_packages_with_app_bridge_framed_by_the_admin_only(stack: Stack) -> None:
    page = await stack.client.get(
        "/auth/patch-id-token", params={"shop": SHOP, "shopify-reload": "/app/?shop=" + SHOP}
    )
    assert page.status_code == 200
    assert page.text == f'<script data-api-key="dev-shopify-key" src="{STAND_IN}"></script>'
    assert page.headers["content-security-policy"] == f"frame-ancestors https://{SHOP} {SANDBOX_ADMIN};"
    missing = await stack.client.get("/auth/patch-id-token", params={"shop": SHOP})
    assert (missing.status_code, missing.text) == (400, "Bad Request")


async def test_a_token_whose_dest_is_another_shop_is_refused_and_nothing_is_stored_for_either(
    stack: Stack,
) -> None:
    # Signed with our secret, issued by SHOP's admin, but naming OTHER_SHOP as `dest` (where the
    # app is not installed): the package names OTHER_SHOP, never the query's SHOP, and Shopify
    # refuses to exchange it; the browser is sent for a fresh token (the package's answer).
    token = id_token(SHOP, dest=f"https://{OTHER_SHOP}")
    page = await stack.client.get("/app/", params=app_home_query(SHOP, token))
    assert page.status_code == 302
    assert page.headers["location"].startswith("http://app.test/auth/patch-id-token?")
    exchanges = await token_exchanges(stack)
    assert [request["shop"] for request in exchanges] == [OTHER_SHOP]
    await nothing_stored()


async def test_an_id_token_of_one_shop_never_reaches_another_shops_funnels(stack: Stack) -> None:
    for shop in (SHOP, OTHER_SHOP):
        await installed(stack, shop)
    theirs = await Funnel.insert(Funnel(shop_domain=OTHER_SHOP, name="Their funnel")).returning(Funnel.id)
    funnel_id = theirs[0]["id"]
    token = id_token(SHOP)
    for path in (f"/funnels/{funnel_id}/campaign", f"/funnels/{funnel_id}/settings/"):
        page = await stack.client.get(path, params=app_home_query(OTHER_SHOP, token))
        fetch = await stack.client.get(path, headers=bearer(id_token(SHOP)))
        assert (page.status_code, fetch.status_code) == (404, 404), path
    changed = await stack.client.post(
        f"/funnels/{funnel_id}/campaign", headers=bearer(id_token(SHOP)), data={"name": "Hijacked"}
    )
    assert changed.status_code == 404
    assert (await Funnel.select(Funnel.name).where(Funnel.id == funnel_id).first() or {})[
        "name"
    ] == "Their funnel"


async def test_an_htmx_request_inside_the_iframe_needs_no_csrf_cookie_its_id_token_authenticates_it(
    stack: Stack,
) -> None:
    await installed(stack, SHOP)
    created = await stack.client.post("/funnels/", headers=bearer(id_token(SHOP)))
    assert created.status_code == 303
    assert await Funnel.count() == 1
    # Without a token the same request is the cookie session's, and CSRF still guards it.
    assert (await stack.client.post("/funnels/")).status_code == 403


async def test_an_uninstalled_shops_id_token_installs_it_again(stack: Stack) -> None:
    await installed(stack, SHOP)
    await Shop.update(
        {Shop.access_token: None, Shop.refresh_token: None, Shop.uninstalled_at: Shop.installed_at}
    ).where(Shop.domain == SHOP)
    await managed_install(stack)  # installed again from the admin's app listing
    page = await stack.client.get("/app/", params=app_home_query(SHOP, await sandbox_id_token(stack)))
    assert page.status_code == 200
    row = await Shop.select(Shop.uninstalled_at, Shop.access_token).where(Shop.domain == SHOP).first()
    assert row is not None
    assert row["uninstalled_at"] is None
    assert row["access_token"]
    assert await Shop.count() == 1  # the same row: its funnels and accounts stay attached


async def test_a_failed_token_exchange_says_what_happened_and_offers_a_retry(stack: Stack) -> None:
    # Installed as far as the ID token goes, but Shopify's token endpoint fails.
    await managed_install(stack)
    fault = await stack.shopify.post(
        "/_sandbox/faults", json={"path": "oauth", "kind": "http_500", "shop": SHOP, "count": 10}
    )
    assert fault.status_code == 201, fault.text
    page = await stack.client.get("/app/", params=app_home_query(SHOP, await sandbox_id_token(stack)))
    assert page.status_code == 502
    assert "Shopify did not hand over access to your store" in page.text
    assert 'href="/app?' in page.text
    assert "Try again" in page.text
    assert "id_token=" not in page.text
    await nothing_stored()


async def test_open_crm_and_billing_confirmation_leave_the_iframe_through_the_package(stack: Stack) -> None:
    await installed(stack, SHOP)
    await stack.drain()  # the CRM account
    crm = await stack.client.post("/crm/open", headers=bearer(id_token(SHOP)), data={})
    assert crm.status_code == 401, crm.text
    assert crm.headers["x-shopify-api-request-failure-reauthorize-url"].startswith("http://crm.test/")


def admin_visit(iam: IamContext, token: str, shop: str = SHOP) -> AppHomeVisit:
    """A page load from the admin's iframe, verified by the package as the app verifies one."""
    url = f"{iam.app_base_url}/app/?{urlencode(app_home_query(shop, token))}"
    return verify_app_home(iam, package_request("GET", {}, url, ""))


def another_process(iam: IamContext) -> IamContext:
    """The same app in a process of its own: nothing in memory shared (its own process locks)."""
    return dataclasses.replace(iam, refresh_locks=defaultdict(asyncio.Lock))


async def waiting_for_advisory_locks(connection: asyncpg.Connection, count: int) -> set[int]:
    """The backends waiting for an advisory lock, once `count` of them are (polled, with a deadline)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = await connection.fetch("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        if len(rows) >= count:
            return {row["pid"] for row in rows}
        await asyncio.sleep(0.02)  # polling another backend's state, with a deadline
    raise AssertionError(f"fewer than {count} callers waited for the shop's token lock")


@pytest.mark.postgres
async def test_two_processes_opening_a_new_shop_at_once_make_one_exchange_and_one_install(
    stack: Stack, database_url: str
) -> None:
    if not database_url.startswith("postgres"):
        # SQLite serves one process: its write transaction lets one caller in (the test below).
        pytest.skip("the lock across processes is PostgreSQL's")
    await managed_install(stack)
    iam = iam_of(stack.app)
    first = admin_visit(iam, await sandbox_id_token(stack))
    second = admin_visit(iam, await sandbox_id_token(stack))
    # A third session holds the shop's token lock, so both callers get past their first look
    # (no token yet) and must wait for the database, each on its own connection.
    holder = await asyncpg.connect(database_url.replace("postgresql://", "postgres://"))
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", token_lock_key(SHOP))
        callers = [
            asyncio.ensure_future(ensure_connected(iam, first)),
            asyncio.ensure_future(ensure_connected(another_process(iam), second)),
        ]
        waiting = await waiting_for_advisory_locks(holder, 2)
        assert len(waiting) == 2  # two database connections
        await holder.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", token_lock_key(SHOP))
        outcomes = await asyncio.gather(*callers)
    finally:
        await holder.close()

    assert sorted(outcomes) == [False, True]  # one exchanged; the other found its token
    assert len(await token_exchanges(stack)) == 1
    assert await Shop.count() == 1
    assert await ExternalAccount.count() == 2  # one CRM and one page-service sign-up
    kinds = [row["kind"] for row in await Job.select(Job.kind)]
    assert kinds.count(JOB_PROVISION_ACCOUNT) == 2, kinds  # the sign-ups queued once


@pytest.mark.postgres
async def test_first_loads_at_once_in_one_process_make_one_exchange(stack: Stack) -> None:
    await managed_install(stack)
    iam = iam_of(stack.app)
    visits = [admin_visit(iam, await sandbox_id_token(stack)) for _ in range(3)]
    outcomes = await asyncio.gather(*(ensure_connected(iam, visit) for visit in visits))
    assert sorted(outcomes) == [False, False, True]
    assert len(await token_exchanges(stack)) == 1
    assert await ExternalAccount.count() == 2


async def refresh_outcomes(stack: Stack) -> list[object]:
    answer = await stack.shopify.get("/_sandbox/oauth/requests", params={"grant_type": "refresh_token"})
    return [request["outcome"] for request in answer.json()["requests"]]


async def opened_from_the_admin(stack: Stack) -> int:
    """A managed install opened once from the admin (its first token exchanged); a funnel's id."""
    await managed_install(stack)
    page = await stack.client.get("/app/", params=app_home_query(SHOP, await sandbox_id_token(stack)))
    assert page.status_code == 200, page.text
    created = await stack.client.post("/funnels/", headers=bearer(await sandbox_id_token(stack)))
    assert created.status_code == 303, created.text
    funnel = await Funnel.select(Funnel.id).first()
    assert funnel is not None
    campaign = await stack.client.post(
        f"/funnels/{funnel['id']}/campaign", headers=bearer(await sandbox_id_token(stack)), data=CAMPAIGN
    )
    assert campaign.status_code == 303, campaign.text
    return int(funnel["id"])


async def stored_tokens() -> dict[str, object]:
    row = await Shop.select(
        Shop.access_token, Shop.refresh_token, Shop.access_lost_at, Shop.uninstalled_at
    ).first()
    assert row is not None
    return row


async def test_a_token_shopify_revoked_is_deleted_and_the_next_admin_request_exchanges_a_new_one(
    stack: Stack,
) -> None:
    funnel_id = await opened_from_the_admin(stack)
    jobs, before = await Job.count(), await stored_tokens()
    revoked = await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens/revoke")
    assert revoked.status_code == 200, revoked.text
    search = f"/funnels/{funnel_id}/product/search"

    # The search's call is refused (401), so is the refresh: the pair is deleted; "try again".
    failed = await stack.client.get(search, params={"q": ""}, headers=bearer(await sandbox_id_token(stack)))
    assert failed.status_code == 200, failed.text
    assert "We could not search your store just now" in failed.text
    assert await refresh_outcomes(stack) == ["invalid_grant"]
    lost = await stored_tokens()
    assert (lost["access_token"], lost["refresh_token"], lost["uninstalled_at"]) == (None, None, None)
    assert lost["access_lost_at"] is not None

    # Trying again from the admin: its ID token is exchanged for a new pair, and the search works.
    found = await stack.client.get(search, params={"q": ""}, headers=bearer(await sandbox_id_token(stack)))
    assert found.status_code == 200, found.text
    assert "We could not search your store just now" not in found.text
    assert len(await token_exchanges(stack)) == 2
    now = await stored_tokens()
    assert now["access_token"] not in (None, before["access_token"])
    assert now["access_lost_at"] is None
    assert await Job.count() == jobs  # installed all along: nothing is set up again
    assert await ExternalAccount.count() == 2


async def test_an_expired_refresh_token_inside_the_admin_is_replaced_by_token_exchange(stack: Stack) -> None:
    await opened_from_the_admin(stack)
    jobs = await Job.count()
    # 90 days on, by our record: the access token and the refresh token that renews it expired.
    await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens/revoke")
    moment = utcnow()
    await Shop.update(
        {
            Shop.access_token_expires_at: moment - timedelta(hours=1),
            Shop.refresh_token_expires_at: moment - timedelta(seconds=1),
        }
    ).where(Shop.domain == SHOP)

    page = await stack.client.get("/app/", params=app_home_query(SHOP, await sandbox_id_token(stack)))

    assert page.status_code == 200, page.text
    assert "connected again" not in page.text
    assert await refresh_outcomes(stack) == []  # the package knows an expired refresh token by its date
    assert len(await token_exchanges(stack)) == 2
    row = await stored_tokens()
    assert row["access_token"] is not None
    assert row["access_lost_at"] is None
    assert await Job.count() == jobs


async def test_shopify_refusing_the_stored_token_mid_request_in_the_admin_brings_a_fresh_id_token(
    stack: Stack,
) -> None:
    await installed(stack, SHOP)

    @get("/test/shopify-access-lost", dependencies={"shop_domain": Provide(current_shop)})
    async def access_lost(shop_domain: ShopDomain) -> str:
        raise ShopNotConnected(shop_domain, access_lost=True)

    stack.app.register(access_lost)
    # htmx: the package's 401 with its retry header (App Bridge brings a fresh token, the page reloads).
    fetch = await stack.client.get("/test/shopify-access-lost", headers=bearer(id_token(SHOP)))
    assert fetch.status_code == 401
    assert fetch.headers["x-shopify-retry-invalid-session-request"] == "1"
    # A page load: the package's way to the patch page, which comes back with a fresh ID token.
    page = await stack.client.get("/test/shopify-access-lost", params=app_home_query(SHOP, id_token(SHOP)))
    assert page.status_code == 302
    assert page.headers["location"].startswith("http://app.test/auth/patch-id-token?")
    assert "id_token" not in page.headers["location"]


@pytest.mark.postgres
async def test_two_app_processes_opening_a_new_shop_at_once_make_one_exchange_and_one_install(
    database_url: str,
) -> None:
    """The same as above with two real app processes (`python -m onboarding serve`) and the
    Shopify sandbox in a process of its own, over HTTP."""
    if not database_url.startswith("postgres"):
        pytest.skip("two app processes share PostgreSQL")
    ports = {name: free_port() for name in ("first", "second", "shopify")}
    shopify_url = f"http://127.0.0.1:{ports['shopify']}"
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "RUN_WORKER": "false",
        "SHOPIFY_SHOP_BASE_URL": f"{shopify_url}/shops/{{shop}}",
        "SECRET_KEY": "two-processes-secret-key-with-enough-length-0123456789",
    }
    first_url, second_url = (f"http://127.0.0.1:{ports[name]}" for name in ("first", "second"))
    started = [
        start_process(
            [
                sys.executable,
                "-m",
                "sandbox.launcher",
                "--shopify",
                str(ports["shopify"]),
                "--app-url",
                first_url,
            ],
            env,
            "two-processes-sandbox.log",
        )
    ]
    try:
        for name, url in (("first", first_url), ("second", second_url)):
            started.append(
                start_process(
                    [sys.executable, "-m", "onboarding", "serve", "--port", str(ports[name])],
                    {**env, "APP_BASE_URL": url},
                    f"two-processes-{name}.log",
                )
            )
        for (process, log_path, _), url in zip(started, (shopify_url, first_url, second_url), strict=True):
            await asyncio.to_thread(wait_until_healthy, f"{url}/healthz", process, log_path)
        async with httpx.AsyncClient(timeout=30) as http:
            installed = await http.post(f"{shopify_url}/_sandbox/shops/{SHOP}/app-installation")
            assert installed.status_code == 200, installed.text

            async def first_load(app_url: str) -> httpx.Response:
                minted = await http.post(f"{shopify_url}/_sandbox/shops/{SHOP}/id-tokens", json={})
                query = app_home_query(SHOP, minted.json()["idToken"])
                return await http.get(f"{app_url}/app/", params=query)

            holder = await asyncpg.connect(database_url.replace("postgresql://", "postgres://"))
            try:
                await holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", token_lock_key(SHOP))
                loads = [asyncio.ensure_future(first_load(url)) for url in (first_url, second_url)]
                assert len(await waiting_for_advisory_locks(holder, 2)) == 2
                await holder.execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))", token_lock_key(SHOP)
                )
                pages = await asyncio.gather(*loads)
                assert [page.status_code for page in pages] == [200, 200], [page.text[:300] for page in pages]
                exchanges = await http.get(
                    f"{shopify_url}/_sandbox/oauth/requests",
                    params={"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"},
                )
                assert len(exchanges.json()["requests"]) == 1
                assert await holder.fetchval("SELECT count(*) FROM shop") == 1
                assert await holder.fetchval("SELECT count(*) FROM external_account") == 2
                provisioning = "SELECT count(*) FROM job WHERE kind = $1"
                assert await holder.fetchval(provisioning, JOB_PROVISION_ACCOUNT) == 2
            finally:
                await holder.close()
    finally:
        for process, _, log_file in started:
            stop_process(process, log_file)
