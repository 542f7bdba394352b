"""Uninstall and Shopify's privacy webhooks through the app's real route and worker: what each
request deletes in every domain, what it keeps (docs/privacy.md), and that nobody else's rows
move. On SQLite, and PostgreSQL when reachable."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from piccolo.apps.migrations.tables import Migration
from piccolo.table import Table

from billing.plans import FREE_PLAN, create_plan
from billing.privacy import ACCOUNTING_RETENTION
from billing.services import NewSubscription, ProviderState, apply_state
from billing.tables import PlanPrice, ProviderObject, Subscription
from billing.usage import claim_synced_order
from funnels.tables import Funnel, PublishStep, Upsell
from iam.privacy import PRIVACY_RECORD_RETENTION, record_request
from iam.sessions import DatabaseSessionStore
from iam.tables import ExternalAccount, MerchantSession, OAuthState, PrivacyRequest, Shop
from jobqueue.tables import InboxEvent, Job, JobStatus
from jobqueue.worker import Worker
from lib.clock import utcnow
from onboarding.app import create_app
from onboarding.database import all_tables, app_registry
from onboarding.privacy import prune_kept_records
from onboarding.settings import Settings
from sync import activity, links
from sync.privacy import REDACTED_CUSTOMER
from sync.tables import Reconciliation, SyncDirection, SyncEntity, SyncLink, SyncOutcome
from tests.support.app import asgi_client, lifespan_of
from tests.support.live_funnel import checkout, crm_funnel_order, live_funnel, settle
from tests.support.shopify_charges import PRO, subscribe_and_decide
from tests.support.shops import OTHER_SHOP, install_shop, post_webhook, sign_in
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.postgres
SHOP = "demo-store.myshopify.com"
ANN, BO = "ann@example.com", "bo@example.com"  # the shoppers of checkout() and crm_funnel_order()

Rows = dict[str, dict[Any, dict[str, Any]]]


async def drain(app: Litestar) -> None:
    worker: Worker = app.state.worker
    await worker.drain()


def app_tables() -> list[type[Table]]:
    return [table for table in all_tables(app_registry()) if table is not Migration]


async def snapshot() -> Rows:
    """Every row of every table of the app, by table name and id."""
    return {
        table._meta.tablename: {row["id"]: row for row in await table.select().output(load_json=True)}
        for table in app_tables()
    }


def names(row: dict[str, Any], markers: set[str]) -> bool:
    text = repr(row)
    return any(marker in text for marker in markers)


def naming(rows: Rows, markers: set[str]) -> set[tuple[str, Any]]:
    """(table, id) of every row that spells out one of the markers anywhere."""
    return {
        (table, row_id)
        for table, by_id in rows.items()
        for row_id, row in by_id.items()
        if names(row, markers)
    }


def assert_untouched(before: Rows, after: Rows, *, except_rows: set[tuple[str, Any]]) -> None:
    """Every row of `before` but those is in `after`, exactly as it was."""
    for table, by_id in before.items():
        for row_id, row in by_id.items():
            if (table, row_id) not in except_rows:
                assert after[table].get(row_id) == row, (table, row)


# -- uninstall and the privacy webhooks on their own --------------------------------------------


def shopify_answering(status: int) -> httpx.MockTransport:
    """A Shopify that answers every call (GraphQL, token refresh) with `status`: 401 once
    the app is uninstalled, 200 (the shop) while its token works."""

    def answer(request: httpx.Request) -> httpx.Response:
        if status != 200:
            return httpx.Response(status, json={"errors": "[API] Invalid API key or access token"})
        return httpx.Response(200, json={"data": {"shop": {"id": "gid://shopify/Shop/1"}}})

    return httpx.MockTransport(answer)


@pytest.fixture
async def revoked_client(settings: Settings) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """The app, with a Shopify that no longer takes the shop's token (it uninstalled)."""
    app = create_app(settings, transports={"shopify": shopify_answering(401)})
    async with lifespan_of(app), asgi_client(app) as client:
        yield app, client


UNINSTALLED = {"id": 1, "domain": SHOP, "myshopify_domain": SHOP}


async def test_uninstall_revokes_tokens_sessions_and_queued_work(
    revoked_client: tuple[Litestar, httpx.AsyncClient],
) -> None:
    app, client = revoked_client
    await install_shop(app, SHOP)
    await sign_in(client, SHOP)
    assert (await client.get("/app/")).status_code == 200
    queued_before = await Job.count().where(Job.shop_domain == SHOP)
    assert queued_before > 0

    response = await post_webhook(client, "app/uninstalled", UNINSTALLED, shop_domain=SHOP)
    assert response.status_code == 200
    # The uninstall event runs first: its job is older than nothing else of this shop's ordering key.
    await app.state.worker.run_once()
    while await app.state.worker.run_once():
        pass

    shop = (
        await Shop.select(Shop.access_token, Shop.refresh_token, Shop.uninstalled_at)
        .where(Shop.domain == SHOP)
        .first()
    )
    assert shop is not None
    assert shop["access_token"] is None
    assert shop["refresh_token"] is None
    assert shop["uninstalled_at"] is not None
    assert await MerchantSession.count().where(MerchantSession.shop_domain == SHOP) == 0
    assert await ExternalAccount.count().where(ExternalAccount.access_token.is_not_null()) == 0
    assert await Job.count().where((Job.shop_domain == SHOP) & (Job.status == JobStatus.CANCELLED)) > 0

    after = await client.get("/app/", headers={"accept": "text/html"})
    assert after.status_code == 401
    assert "Please sign in" in after.text


async def test_an_uninstall_shopify_does_not_confirm_is_ignored(settings: Settings) -> None:
    # A captured delivery re-sent as app/uninstalled (its headers are not signed): the shop's
    # token still works, so nothing of the shop changes.
    app = create_app(settings, transports={"shopify": shopify_answering(200)})
    async with lifespan_of(app), asgi_client(app) as client:
        await install_shop(app, SHOP)
        response = await post_webhook(client, "app/uninstalled", UNINSTALLED, shop_domain=SHOP)
        assert response.status_code == 200
        await drain(app)
    shop = await Shop.select(Shop.access_token, Shop.uninstalled_at).where(Shop.domain == SHOP).first()
    assert shop is not None
    assert shop["access_token"] is not None
    assert shop["uninstalled_at"] is None
    event = await InboxEvent.select(InboxEvent.status).first()
    assert event == {"status": "processed"}


async def test_shop_redact_of_an_installed_shop_is_ignored(app: Litestar, client: httpx.AsyncClient) -> None:
    await install_shop(app, SHOP)
    await post_webhook(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, shop_domain=SHOP)
    await drain(app)
    assert await Shop.count().where(Shop.domain == SHOP) == 1
    assert await PrivacyRequest.count() == 0


async def test_customer_data_request_exports_what_we_hold(app: Litestar, client: httpx.AsyncClient) -> None:
    await install_shop(app, SHOP)
    customer = {"id": 42, "email": "ana@example.com", "first_name": "Ana"}
    await post_webhook(client, "customers/update", customer, shop_domain=SHOP)
    await post_webhook(client, "customers/update", {"id": 43, "email": "bo@example.com"}, shop_domain=SHOP)
    await post_webhook(
        client,
        "customers/data_request",
        {"shop_domain": SHOP, "customer": {"id": 42, "email": "ana@example.com"}, "orders_requested": []},
        shop_domain=SHOP,
    )
    await drain(app)
    request = (
        await PrivacyRequest.select()
        .where(PrivacyRequest.topic == "customers/data_request")
        .output(load_json=True)
        .first()
    )
    assert request is not None
    assert request["customer_id"] == "42"
    records = request["export"]["records"]
    assert [record["data"]["email"] for record in records] == ["ana@example.com"]


async def test_customer_redact_deletes_the_customers_data_only(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await install_shop(app, SHOP)
    await post_webhook(client, "customers/update", {"id": 42, "email": "ana@example.com"}, shop_domain=SHOP)
    await post_webhook(
        client, "orders/create", {"id": 900, "email": "ana@example.com", "line_items": []}, shop_domain=SHOP
    )
    await post_webhook(client, "customers/update", {"id": 43, "email": "bo@example.com"}, shop_domain=SHOP)
    # A product that happens to share the customer's id is not the customer.
    await post_webhook(client, "products/update", {"id": 42, "title": "Tee"}, shop_domain=SHOP)
    await post_webhook(
        client,
        "customers/redact",
        {"shop_domain": SHOP, "customer": {"id": 42, "email": "ana@example.com"}, "orders_to_redact": [900]},
        shop_domain=SHOP,
    )
    await drain(app)
    remaining = await InboxEvent.select(InboxEvent.payload).output(load_json=True)
    text = str(remaining)
    assert "ana@example.com" not in text
    assert "bo@example.com" in text
    assert {"id": 42, "title": "Tee"} in [row["payload"] for row in remaining]
    outcome = (
        await PrivacyRequest.select(PrivacyRequest.outcome)
        .where(PrivacyRequest.topic == "customers/redact")
        .first()
    )
    assert outcome == {"outcome": "2 record(s) deleted"}


async def test_shop_redact_deletes_everything_of_the_shop(app: Litestar, client: httpx.AsyncClient) -> None:
    await install_shop(app, SHOP)
    await install_shop(app, "other.myshopify.com")
    await post_webhook(client, "customers/update", {"id": 1, "email": "x@example.com"}, shop_domain=SHOP)
    await Shop.update({Shop.uninstalled_at: utcnow() - timedelta(hours=48)}).where(Shop.domain == SHOP)
    await post_webhook(client, "shop/redact", {"shop_domain": SHOP}, shop_domain=SHOP)
    await drain(app)
    assert await Shop.count().where(Shop.domain == SHOP) == 0
    assert await Shop.count().where(Shop.domain == "other.myshopify.com") == 1
    assert await InboxEvent.count().where(InboxEvent.shop_domain == SHOP) == 0
    assert await Job.count().where(Job.shop_domain == SHOP) == 0
    assert await PrivacyRequest.count().where(PrivacyRequest.topic == "shop/redact") == 1


# -- a shop at work: every domain holds rows of it ----------------------------------------------


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """The shop installed with a live funnel (one upsell, its publish steps) and a paid plan."""
    async with running_stack(database_url) as running:
        await live_funnel(running)
        await create_plan(PRO)
        assert await subscribe_and_decide(running, "pro", "approve") == "/billing/?outcome=active"
        yield running


async def fulfil(stack: Stack, order: dict[str, Any]) -> dict[str, Any]:
    shipped = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/orders/{order['id']}/fulfillments",
        json={"trackingNumber": "9400111", "trackingCompany": "USPS"},
    )
    assert shipped.status_code == 201, shipped.text
    await settle(stack)
    fulfillment: dict[str, Any] = shipped.json()
    return fulfillment


async def data_request(stack: Stack, customer_id: str, email: str, orders: list[str]) -> None:
    sent = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/customers/data_request",
        json={"customer": {"id": int(customer_id), "email": email}, "orders": [int(o) for o in orders]},
    )
    assert sent.status_code == 202, sent.text
    await settle(stack)


@dataclass(frozen=True)
class Shopper:
    email: str
    street: str  # their delivery address
    customer_id: str  # Shopify's
    order_id: str  # Shopify's
    markers: frozenset[str]  # every id naming them or their orders on either side, and the above


async def _linked(
    entity_type: str, *, shopify_id: str | None = None, crm_id: str | None = None
) -> dict[str, Any]:
    side = (SyncLink.shopify_id == shopify_id) if shopify_id else (SyncLink.crm_id == crm_id)
    row = (
        await SyncLink.select(SyncLink.shopify_id, SyncLink.crm_id)
        .where((SyncLink.entity_type == entity_type) & side)
        .first()
    )
    assert row is not None, (entity_type, shopify_id, crm_id)
    return row


def _number(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


async def two_shoppers(stack: Stack) -> dict[str, Shopper]:
    """Ann checks out in the store and her order is shipped from Shopify; Bo orders on the
    funnel in the CRM. Both sync both ways, and both asked what we hold about them."""
    placed = await checkout(stack)
    shipped = await fulfil(stack, placed)
    ann_gids = [
        ("customer", f"gid://shopify/Customer/{placed['customer']['id']}"),
        ("order", f"gid://shopify/Order/{placed['id']}"),
        ("fulfillment", shipped["admin_graphql_api_id"]),
    ]
    ann_ids = {_number(gid) for _, gid in ann_gids}
    ann_ids |= {(await _linked(entity_type, shopify_id=gid))["crm_id"] for entity_type, gid in ann_gids}
    ann = Shopper(
        ANN,
        "1 Elm St",
        str(placed["customer"]["id"]),
        str(placed["id"]),
        frozenset({ANN, "1 Elm St", *ann_ids}),
    )

    crm_order = await crm_funnel_order(stack)
    bo_order = await _linked("order", crm_id=crm_order["id"])
    bo_customer = await _linked("customer", crm_id=crm_order["customer_id"])
    bo_ids = {
        crm_order["id"],
        crm_order["customer_id"],
        _number(bo_order["shopify_id"]),
        _number(bo_customer["shopify_id"]),
    }
    bo = Shopper(
        BO,
        "2 Oak Ave",
        _number(bo_customer["shopify_id"]),
        _number(bo_order["shopify_id"]),
        frozenset({BO, "2 Oak Ave", *bo_ids}),
    )
    for shopper in (ann, bo):
        await data_request(stack, shopper.customer_id, shopper.email, [shopper.order_id])
    return {"ann": ann, "bo": bo}


async def other_shop_at_work() -> None:
    """Another shop with rows in every domain, through the services where there are some."""
    now = utcnow()
    funnel = await Funnel.insert(Funnel(shop_domain=OTHER_SHOP, name="Winter", status="draft")).returning(
        Funnel.id
    )
    await Upsell.insert(Upsell(funnel=funnel[0]["id"], headline="Add socks"))
    await PublishStep.insert(PublishStep(funnel=funnel[0]["id"], name="campaign", status="done"))
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan.code == PRO.code).first()
    assert price is not None
    await apply_state(
        OTHER_SHOP, "sub_other", ProviderState("active", now), new=NewSubscription("stripe", price["id"])
    )
    await ProviderObject.insert(
        ProviderObject(
            key=f"stripe:customer:{OTHER_SHOP}",
            provider="stripe",
            kind="customer",
            local_id=OTHER_SHOP,
            external_id="cus_other",
        )
    )
    assert await claim_synced_order(OTHER_SHOP, "gid://shopify/Order/1", now)
    await links.save(
        OTHER_SHOP, "customer", shopify_id="gid://shopify/Customer/1", crm_id="cus_o", canonical={"a": 1}
    )
    await activity.record(
        OTHER_SHOP, SyncEntity.CUSTOMER, SyncDirection.TO_CRM, "gid://shopify/Customer/1", SyncOutcome.SYNCED
    )
    await Reconciliation.insert(Reconciliation(shop_domain=OTHER_SHOP, checked=1))
    await OAuthState.insert(OAuthState(state_hash="o" * 64, browser_hash="b" * 64, shop_domain=OTHER_SHOP))
    await DatabaseSessionStore().set(secrets.token_hex(32), json.dumps({"shop": OTHER_SHOP}).encode(), 3600)


async def test_shop_redact_forgets_the_shop_in_every_domain_but_its_billing_records(stack: Stack) -> None:
    shoppers = await two_shoppers(stack)
    await ProviderObject.insert(
        ProviderObject(
            key=f"stripe:customer:{SHOP}",
            provider="stripe",
            kind="customer",
            local_id=SHOP,
            external_id="cus_ds",
        )
    )
    await OAuthState.insert(OAuthState(state_hash="s" * 64, browser_hash="b" * 64, shop_domain=SHOP))
    await Reconciliation.insert(Reconciliation(shop_domain=SHOP, checked=3))
    minted = await stack.shopify.post(f"/_sandbox/shops/{OTHER_SHOP}/tokens")
    await install_shop(stack.app, OTHER_SHOP, access_token=minted.json()["access_token"])
    await other_shop_at_work()
    await post_webhook(
        stack.client, "customers/update", {"id": 7, "email": "cy@example.com"}, shop_domain=OTHER_SHOP
    )
    await settle(stack)

    funnel_ids = [row["id"] for row in await Funnel.select(Funnel.id).where(Funnel.shop_domain == SHOP)]
    shop = await Shop.select(Shop.id).where(Shop.domain == SHOP).first()
    assert shop is not None
    # The merchant uninstalls; 48 hours later Shopify sends shop/redact (both signed, through the app).
    assert (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/uninstall")).status_code == 200
    await settle(stack)
    before = await snapshot()
    assert (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/redact")).status_code == 202
    await settle(stack)
    after = await snapshot()

    # The shop's rows: those spelling out its domain, and its funnels' and accounts' children.
    the_shops = naming(before, {SHOP})
    the_shops |= {("upsell", i) for i, row in before["upsell"].items() if row["funnel"] in funnel_ids}
    the_shops |= {
        ("publish_step", i) for i, row in before["publish_step"].items() if row["funnel"] in funnel_ids
    }
    the_shops |= {
        ("external_account", i) for i, row in before["external_account"].items() if row["shop"] == shop["id"]
    }
    assert {table for table, _ in the_shops} >= {
        "funnel",
        "upsell",
        "publish_step",
        "subscription",
        "provider_object",
        "synced_order_month",
        "synced_order_claim",
        "sync_link",
        "sync_activity",
        "reconciliation",
        "inbox_event",
        "job",
        "shop",
        "external_account",
        "o_auth_state",
        "privacy_request",
    }  # its sessions ended at uninstall
    # Gone: all of them but its subscription records and the records of its privacy requests.
    still_there = {(table, i) for table, i in the_shops if i in after[table]}
    assert {table for table, _ in still_there} == {"subscription", "provider_object", "privacy_request"}
    assert {table for table, _ in naming(after, {SHOP})} == {
        "subscription",
        "provider_object",
        "privacy_request",
    }
    # Kept as they were: what the provider charged, for accounting.
    for table, i in still_there - {row for row in still_there if row[0] == "privacy_request"}:
        assert after[table][i] == before[table][i]
    requests = [row for row in after["privacy_request"].values() if row["shop_domain"] == SHOP]
    assert [row["outcome"].startswith("shop data deleted") for row in requests].count(True) == 1
    # The data requests' records stay; their customer's data went with the shop.
    exports = [row["export"] for row in requests if row["topic"] == "customers/data_request"]
    assert exports == [{}, {}]
    # Nothing of its customers is left anywhere but in those records: their Shopify id.
    assert naming(after, {*shoppers["ann"].markers, *shoppers["bo"].markers}) == {
        ("privacy_request", i)
        for i, row in after["privacy_request"].items()
        if row["topic"] == "customers/data_request"
    }
    assert not naming(after, {ANN, BO, "1 Elm St", "2 Oak Ave"})
    # Another shop's rows, in every domain, did not move.
    assert {table for table, _ in naming(before, {OTHER_SHOP})} >= {
        "funnel",
        "subscription",
        "synced_order_claim",
        "sync_link",
        "inbox_event",
        "shop",
        "merchant_session",
    }
    assert_untouched(before, after, except_rows=the_shops)


@pytest.mark.parametrize("redacted", ["ann", "bo"])
async def test_customer_redact_forgets_every_row_naming_the_customer_and_their_orders(
    stack: Stack, redacted: str
) -> None:
    shoppers = await two_shoppers(stack)
    gone, other = shoppers[redacted], shoppers["bo" if redacted == "ann" else "ann"]
    customer_gids = {f"gid://shopify/Customer/{s.customer_id}": s for s in shoppers.values()}
    repairs = [
        {
            "entity_type": "customer",
            "entity_ref": "Ann Lee" if shopper is shoppers["ann"] else "Bo Chen",
            "what": "CRM customer updated from Shopify",
            "shopify_id": gid,
            "crm_id": (await _linked("customer", shopify_id=gid))["crm_id"],
        }
        for gid, shopper in customer_gids.items()
    ]
    repairs.append({"entity_type": "product", "entity_ref": "Classic Cotton T-Shirt", "what": "Price"})
    await Reconciliation.insert(Reconciliation(shop_domain=SHOP, checked=3, repairs=repairs))
    before = await snapshot()
    about_them = naming(before, set(gone.markers))
    # Before: the customer is named in links, sync activity, stored webhooks and their jobs, the
    # month's order claims, a reconciliation's repairs and a data request's export.
    assert {table for table, _ in about_them} >= {
        "sync_link",
        "sync_activity",
        "inbox_event",
        "job",
        "synced_order_claim",
        "reconciliation",
        "privacy_request",
    }

    sent = await stack.shopify.post(
        f"/_sandbox/shops/{SHOP}/customers/redact",
        json={"customer": {"id": int(gone.customer_id), "email": gone.email}, "orders": [int(gone.order_id)]},
    )
    assert sent.status_code == 202, sent.text
    await settle(stack)
    after = await snapshot()

    # After: nothing names them but the record of the requests (their Shopify id, no contact details).
    (redact_event,) = [row for row in after["inbox_event"].values() if row["topic"] == "customers/redact"]
    assert redact_event["payload"] == {"customer": {"id": gone.customer_id}}
    redact_job = next(
        i for i, row in after["job"].items() if row["payload"] == {"event_id": redact_event["id"]}
    )
    records = {i for i, row in after["privacy_request"].items() if row["customer_id"] == gone.customer_id}
    assert naming(after, set(gone.markers)) == {
        ("inbox_event", redact_event["id"]),
        ("job", redact_job),
        *(("privacy_request", i) for i in records),
    }
    assert {after["privacy_request"][i]["topic"] for i in records} == {
        "customers/data_request",
        "customers/redact",
    }
    assert all(after["privacy_request"][i]["export"] == {} for i in records)
    assert not naming(after, {gone.email, gone.street})
    # Their reconciliation repair stays counted, without their name; everyone else's stays as it was.
    (run,) = [row for row in after["reconciliation"].values() if row["checked"] == 3]
    assert [repair["entity_ref"] for repair in run["repairs"]] == [
        REDACTED_CUSTOMER
        if repair["shopify_id"] == f"gid://shopify/Customer/{gone.customer_id}"
        else repair["entity_ref"]
        for repair in repairs
        if "shopify_id" in repair
    ] + ["Classic Cotton T-Shirt"]
    # The month's count still holds their order: it was synced, and the plan's limit counts it.
    assert after["synced_order_month"] == before["synced_order_month"]
    # Every row not naming them (the other shopper's included) did not move.
    assert naming(after, set(other.markers))
    assert_untouched(before, after, except_rows=about_them)
    # The record counts what went or was rewritten (jobs go with their events, uncounted).
    redact_record = next(
        after["privacy_request"][i]
        for i in records
        if after["privacy_request"][i]["topic"] == "customers/redact"
    )
    assert (
        redact_record["outcome"] == f"{sum(1 for table, _ in about_them if table != 'job')} record(s) deleted"
    )


# -- what the requests kept, once its retention is over -----------------------------------------


async def test_kept_records_go_once_their_retention_is_over(app: Litestar, client: httpx.AsyncClient) -> None:
    now = utcnow()
    long_ago = now - ACCOUNTING_RETENTION - timedelta(days=1)
    price = await PlanPrice.select(PlanPrice.id).where(PlanPrice.plan.code == FREE_PLAN).first()
    assert price is not None
    await install_shop(app, "installed.myshopify.com")
    subscriptions = {
        "redacted.myshopify.com": [long_ago],  # shop/redact deleted the shop: its records go
        "installed.myshopify.com": [long_ago],  # still a customer of ours
        "recent.myshopify.com": [long_ago, now - timedelta(days=30)],  # its newest change is recent
    }
    for shop_domain, changes in subscriptions.items():
        for number, changed in enumerate(changes):
            await apply_state(
                shop_domain,
                f"sub_{shop_domain}_{number}",
                ProviderState("cancelled", changed),
                new=NewSubscription("stripe", price["id"]),
            )
            await Subscription.update({Subscription.updated_at: changed}).where(
                Subscription.external_id == f"sub_{shop_domain}_{number}"
            )
        await ProviderObject.insert(
            ProviderObject(
                key=f"stripe:customer:{shop_domain}",
                provider="stripe",
                kind="customer",
                local_id=shop_domain,
                external_id=f"cus_{shop_domain}",
            )
        )
    await record_request("redacted.myshopify.com", "shop/redact", "shop data deleted")
    await record_request("redacted.myshopify.com", "customers/redact", "1 record(s) deleted", customer_id="9")
    await PrivacyRequest.update(
        {PrivacyRequest.created_at: now - PRIVACY_RECORD_RETENTION - timedelta(days=1)}
    ).where(PrivacyRequest.topic == "customers/redact")

    assert await prune_kept_records(now) == 3  # a subscription, a provider customer, a request record
    assert {row["shop_domain"] for row in await Subscription.select(Subscription.shop_domain)} == {
        "installed.myshopify.com",
        "recent.myshopify.com",
    }
    assert {row["local_id"] for row in await ProviderObject.select(ProviderObject.local_id)} == {
        "installed.myshopify.com",
        "recent.myshopify.com",
    }
    assert [row["topic"] for row in await PrivacyRequest.select(PrivacyRequest.topic)] == ["shop/redact"]
    assert await prune_kept_records(now) == 0
