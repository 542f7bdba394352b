"""A storm of changes on both sides, through faults and killed workers: the sides agree, once.

Everything is a real process on 127.0.0.1: the sandboxes (launcher), the app with its
in-process worker off (RUN_WORKER=false) and separate worker processes, on PostgreSQL when
reachable (REQUIRE_POSTGRES=1: required), else SQLite. The shop is installed through
Shopify's OAuth pages and the funnel published through the app's forms, over HTTP.

Then the faults go on: Shopify and CRM 5xx, one timeout on each side (the stalled call is
applied after the app gave up on it), Shopify throttling and CRM rate limits; every webhook
is delivered twice, and the burst's webhooks come in groups delivered last-first. The burst
lands while the worker is paused: prices edited three times on each side, customers created
and renamed on each side, Shopify checkouts, CRM funnel orders. The worker resumes and is
SIGKILLed at the worst moment, right after Shopify applied an orderCreate it sent and before
the job recorded it; a second worker takes over, more funnel orders come, and it is
SIGKILLed right after an applied customerCreate. A real `python -m onboarding worker`
finishes the storm; the faults are cleared once each was met, and the test waits until
nothing is left to do.

Then both sides must agree exactly (each price at its last edit, each customer once on each
side with the same email and name, each checkout one CRM order, each funnel order one
Shopify order), nothing may be refused or given up, and the create counters of both
sandboxes must have moved by exactly what the storm asked for: no effect happened twice.

Last, a captured delivery is replayed: Shopify's HMAC covers the body, not the topic, shop or
webhook id headers, so a products/update and a customers/update that a subscription of the
app also sent to a listener of the test are re-sent with a new webhook id under another topic,
for another shop, and both. Each is refused and nothing stored, or (a delete topic, whose shape
an update body has; a topic whose body names no shop) stored and nothing changed on either side
of either shop.
"""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urljoin

import asyncpg
import httpx
import pytest
from piccolo.engine.base import Engine
from piccolo.table import Table

from analytics.rollup import JOB_ROLL_UP
from jobqueue.tables import InboxEvent, Job
from onboarding.database import all_tables, app_registry, bind_tables, engine_from_url
from sandbox.shopify.seed import FIRST_ID
from sync.tables import SyncActivity
from tests.support.databases import postgres_execute, postgres_url, run_migrations
from tests.support.environment import LOGS_DIR, PROJECT_DIR, require
from tests.support.processes import free_port, stop_process, wait_until_healthy

SHOP = "demo-store.myshopify.com"
OTHER_SHOP = "demo-advanced.myshopify.com"  # a seeded shop of the sandbox, never installed here
API = "2026-10"
T_SHIRT_PRODUCT, T_SHIRT_VARIANT = str(FIRST_ID + 2), str(FIRST_ID + 8)
T_SHIRT = f"gid://shopify/ProductVariant/{T_SHIRT_VARIANT}"  # Classic Cotton T-Shirt, S / White
HOODIE = f"gid://shopify/ProductVariant/{FIRST_ID + 41}"  # Organic Hoodie, M / Grey
DOMAIN = "storm.example"  # every customer the storm makes has an email here
DEADLINE_SECONDS = 45.0
EXTERNAL_TIMEOUT_SECONDS = 1.0  # the app's timeout per call; timeout faults stall longer
STALL_SECONDS = 1.5
LOST_ANSWER_SECONDS = 5.0  # a Shopify answer held back this long never reaches the app

T = TypeVar("T")


# -- the database, read by the test --------------------------------------------------------


def in_thread(work: Callable[[], T]) -> T:
    """Runs `work` in a thread of its own. Helpers that call asyncio.run need a thread without a
    running event loop, and once the browser tests have run, Playwright keeps one in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def storm_database(tmp_path: Path) -> Iterator[str]:
    """A database built by the migrations: PostgreSQL when reachable, else SQLite.

    REQUIRE_POSTGRES=1 makes an unreachable PostgreSQL a failure, as for every other test.
    """
    try:
        in_thread(lambda: postgres_execute("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        if require("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is not reachable: {exc}")
        url = f"sqlite:///{tmp_path / 'storm.sqlite3'}"
        run_migrations(url)
        yield url
        return
    name = f"funnelsync_storm_{uuid.uuid4().hex[:10]}"
    in_thread(lambda: postgres_execute(f'CREATE DATABASE "{name}"'))
    try:
        run_migrations(postgres_url(name))
        yield postgres_url(name)
    finally:
        in_thread(lambda: postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def tables_bound(storm_database: str) -> Iterator[None]:
    """The product's tables pointed at the storm's database in this process, then put back."""
    registry = app_registry()
    previous: list[tuple[type[Table], Engine]] = [(t, t._meta.db) for t in all_tables(registry)]  # type: ignore[type-arg]
    bind_tables(engine_from_url(storm_database), registry)
    yield
    for table, engine in previous:
        table._meta.db = engine


def unfinished_jobs() -> list[dict[str, Any]]:
    """Jobs queued to run soon or running (the periodic catalog refresh and reconciliation
    wait hours, and the analytics rollup comes back every half minute for good: none of them
    is sync work left to do)."""
    soon = datetime.now(tz=UTC) + timedelta(minutes=10)
    rows: list[dict[str, Any]] = (
        Job.select(Job.id, Job.kind, Job.status, Job.run_at, Job.locked_by, Job.last_error)
        .where(Job.status.is_in(["queued", "running"]) & (Job.kind != JOB_ROLL_UP))
        .run_sync()
    )
    return [row for row in rows if row["status"] == "running" or aware(row["run_at"]) < soon]


def aware(moment: datetime | str) -> datetime:
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- the processes -------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


@dataclass
class Systems:
    env: dict[str, str]
    app_url: str
    shopify_url: str
    crm_url: str
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Process:
        LOGS_DIR.mkdir(parents=True, exist_ok=True)
        log_path = LOGS_DIR / f"storm-{name}.log"
        log = log_path.open("wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        process = Process(name, popen, log_path, log)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop_process(process.popen, process.log)


@pytest.fixture
def systems(storm_database: str, tmp_path: Path) -> Iterator[Systems]:
    ports = {name: free_port() for name in ("app", "shopify", "crm", "templates")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": urls["app"],
        "DATABASE_URL": storm_database,
        "SHOPIFY_SHOP_BASE_URL": f"{urls['shopify']}/shops/{{shop}}",
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": "storm-secret-key-with-enough-length-0123456789",
        "APP_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "RUN_WORKER": "false",  # only the worker processes run jobs
        "EXTERNAL_TIMEOUT_SECONDS": str(EXTERNAL_TIMEOUT_SECONDS),
        "LOG_JSON": "false",
    }
    running = Systems(env=env, app_url=urls["app"], shopify_url=urls["shopify"], crm_url=urls["crm"])
    try:
        sandboxes = running.start(
            "sandboxes",
            "sandbox.launcher",
            *(arg for name in ("shopify", "crm", "templates") for arg in (f"--{name}", str(ports[name]))),
            "--app-url",
            urls["app"],
        )
        # The app first: it creates the signing key the worker processes then share.
        app = running.start("app", "onboarding", "serve", "--port", str(ports["app"]))
        for name in ("shopify", "crm", "templates"):
            wait_until_healthy(f"{urls[name]}/healthz", sandboxes.popen, sandboxes.log_path)
        wait_until_healthy(f"{urls['app']}/healthz", app.popen, app.log_path)
        yield running
    finally:
        running.stop_all()


# -- waiting, always with a deadline -------------------------------------------------------


def wait_for(
    description: str, check: Callable[[], T | None], deadline_seconds: float = DEADLINE_SECONDS
) -> T:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)  # polling real processes, with a deadline
    raise AssertionError(f"not within {deadline_seconds}s: {description}")


def wait_until_quiet(storm: Storm, deadline_seconds: float = DEADLINE_SECONDS) -> None:
    """Until no webhook is pending or held on either side, no job is left, and no new event
    arrived over the last two looks."""
    previous: list[int] = []

    def quiet() -> bool:
        shopify = storm.shopify.get("/_sandbox/webhooks/deliveries", params={"shop": SHOP}).json()
        crm = storm.crm.get("/_sandbox/webhooks/deliveries").json()
        events = int(InboxEvent.count().run_sync())
        idle = not (
            shopify["pending"] or shopify["held"] or crm["pending"] or crm["held"] or unfinished_jobs()
        )
        settled = idle and previous == [events]
        previous[:] = [events] if idle else []
        if not settled:
            time.sleep(0.3)
        return settled

    try:
        wait_for("the sync to settle", quiet, deadline_seconds)
    except AssertionError as exc:
        topics = Counter(
            f"{row['source']}:{row['topic']}"
            for row in InboxEvent.select(InboxEvent.source, InboxEvent.topic).run_sync()
        )
        raise AssertionError(f"{exc}; unfinished jobs: {unfinished_jobs()}; events: {topics}") from None


# -- the two sides -------------------------------------------------------------------------


@dataclass
class Storm:
    systems: Systems
    browser: httpx.Client
    shopify: httpx.Client
    crm: httpx.Client
    crm_user: str = ""

    def form(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        token = self.browser.cookies.get("csrftoken") or ""
        return self.browser.post(path, data={**(data or {}), "_csrf_token": token}, follow_redirects=False)

    def shopify_graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Reads through the Admin API like any app, waiting out throttling (the storm drained the
        shop's bucket)."""
        token = self.shopify.post(f"/_sandbox/shops/{SHOP}/tokens").json()["access_token"]

        def answered() -> dict[str, Any] | None:
            answer = self.shopify.post(
                f"/shops/{SHOP}/admin/api/{API}/graphql.json",
                json={"query": query, "variables": variables or {}},
                headers={"X-Shopify-Access-Token": token},
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            codes = {error.get("extensions", {}).get("code") for error in body.get("errors") or []}
            if codes == {"THROTTLED"}:
                return None
            assert "errors" not in body, body
            data: dict[str, Any] = body["data"]
            return data

        return wait_for("Shopify to answer unthrottled", answered, 30.0)

    def shopify_writes(self) -> Counter[str]:
        return Counter(self.shopify.get(f"/_sandbox/shops/{SHOP}/writes").json()["writes"])

    def shopify_faults(self) -> list[dict[str, Any]]:
        # A fresh connection each time: on a kept-alive one each answer of the launcher's servers
        # takes ~40 ms here (against ~1.5 ms), too slow for watching a worker closely.
        faults: list[dict[str, Any]] = self.shopify.get(
            "/_sandbox/faults", headers={"Connection": "close"}
        ).json()
        return faults

    def crm_writes(self) -> Counter[str]:
        return Counter(self.crm.get("/_sandbox/writes").json())

    def crm_products(self) -> dict[str, dict[str, Any]]:
        rows = self.crm.get("/_sandbox/products").json()["data"]
        return {row["external_id"]: row for row in rows if row["user_id"] == self.crm_user}

    def crm_customers(self) -> list[dict[str, Any]]:
        rows = self.crm.get("/_sandbox/customers", params={"user_id": self.crm_user}).json()["data"]
        return [row for row in rows if str(row.get("email") or "").endswith(f"@{DOMAIN}")]

    def crm_orders(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.crm.get(
            "/_sandbox/orders", params={"user_id": self.crm_user}
        ).json()["data"]
        return rows


@pytest.fixture
def storm(systems: Systems) -> Iterator[Storm]:
    with (
        httpx.Client(base_url=systems.app_url, timeout=15, follow_redirects=True) as browser,
        httpx.Client(base_url=systems.shopify_url, timeout=15) as shopify,
        httpx.Client(base_url=systems.crm_url, timeout=15) as crm,
    ):
        yield Storm(systems, browser, shopify, crm)


# -- install and publish, over HTTP as a merchant would -------------------------------------


def install(storm: Storm) -> None:
    """Shopify's install link, its consent page, the app's callback, the setup page."""
    consent = storm.browser.get(f"{storm.systems.shopify_url}/shops/{SHOP}/admin/apps/install")
    assert consent.status_code == 200, consent.text
    action = re.search(r'<form method="post" action="([^"]+)"', consent.text)
    assert action, consent.text
    hidden = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text)
    }
    setup = storm.browser.post(urljoin(str(consent.url), html.unescape(action.group(1))), data=hidden)
    assert setup.status_code == 200, setup.text
    assert setup.url.path.rstrip("/") == "/setup", setup.url

    def accounts_ready() -> bool:
        return "Your accounts are ready." in storm.browser.get("/setup/progress").text

    wait_for("the CRM and page builder accounts", accounts_ready)
    users = storm.crm.get("/_sandbox/users").json()["data"]
    storm.crm_user = next(str(user["id"]) for user in users if user["shop_domain"] == SHOP)
    added = storm.crm.post(
        f"/_sandbox/users/{storm.crm_user}/payment-processors", json={"name": "Stripe", "kind": "stripe"}
    )
    assert added.status_code == 201, added.text


def publish_funnel(storm: Storm) -> int:
    """The six wizard steps through the app's forms, then publish (the worker runs the saga)."""
    storm.browser.get("/app")  # any page: the browser now holds its CSRF cookie
    created = storm.form("/funnels/")
    match = re.fullmatch(r"/funnels/(\d+)/campaign", created.headers.get("location", ""))
    assert match, (created.status_code, created.text)
    funnel = f"/funnels/{match.group(1)}"
    steps: list[tuple[str, dict[str, str], str]] = [
        (
            "/campaign",
            {"name": "Storm sale", "description": "Tees and hoodies", "currency": "USD", "country": "US"},
            "/product",
        ),
        ("/product", {"variant_id": T_SHIRT}, "/upsells"),
        (
            "/upsells",
            {
                "headline": "Add a hoodie",
                "discount_type": "percentage",
                "discount_value": "10",
                "variant_id": HOODIE,
            },
            "/upsells",
        ),
        ("/upsells/continue", {}, "/template"),
        ("/template", {"template_id": "tpl_classic_sales"}, "/hosting"),
        ("/hosting", {"host_kind": "subdomain", "subdomain": "storm-sale"}, "/review"),
        ("/publish", {}, "/publishing"),
    ]
    for path, data, next_path in steps:
        answer = storm.form(funnel + path, data)
        assert answer.headers.get("location") == funnel + next_path, (path, answer.status_code, answer.text)

    wait_for(
        "the funnel to go live",
        lambda: "Your funnel is live" in storm.browser.get(funnel + "/publishing").text,
    )
    return int(match.group(1))


# -- the storm --------------------------------------------------------------------------------

FUNNEL_ORDERS = 3  # placed in the CRM in the burst, each by a new customer
LATER_FUNNEL_ORDERS = 3  # placed while the second worker runs

# Webhook faults are set so the burst's events come in groups (see make_changes), each group
# delivered last-first; every webhook of the storm is also delivered twice.
SHOPIFY_OUT_OF_ORDER = (3, 3)  # the T-shirt's three price edits; a customer's creation and two edits
# The hoodie's three price edits; each funnel order's customer and order; a customer's creation
# and two edits.
CRM_OUT_OF_ORDER = (3, *(2,) * FUNNEL_ORDERS, 3)


def turn_faults_on(storm: Storm) -> None:
    shopify_faults: list[dict[str, Any]] = [
        # Taken oldest first: the first call stalls past the app's timeout (and is then applied
        # all the same), two answer 500, two find the shop's bucket drained.
        {"kind": "timeout", "count": 1, "seconds": STALL_SECONDS},
        {"kind": "http_500", "count": 2},
        {"kind": "throttle", "count": 2},
        {"kind": "webhook_duplicate", "count": 1000},
        *({"kind": "webhook_out_of_order", "count": count} for count in SHOPIFY_OUT_OF_ORDER),
    ]
    for fault in shopify_faults:
        added = storm.shopify.post("/_sandbox/faults", json={"shop": SHOP, **fault})
        assert added.status_code == 201, added.text
    crm_faults: list[dict[str, Any]] = [
        {"kind": "timeout", "count": 1, "seconds": STALL_SECONDS},
        {"kind": "http_500", "count": 3},
        {"kind": "rate_limit", "count": 2, "seconds": 1},
    ]
    for fault in crm_faults:
        added = storm.crm.post("/_sandbox/faults", json=fault)
        assert added.status_code == 201, added.text
    webhook_faults = [
        {"kind": "duplicate", "count": 1000},
        *({"kind": "out_of_order", "count": count} for count in CRM_OUT_OF_ORDER),
    ]
    for fault in webhook_faults:
        added = storm.crm.post("/_sandbox/webhooks/faults", json=fault)
        assert added.status_code == 201, added.text


def faults_to_meet(storm: Storm) -> list[dict[str, Any]]:
    """The faults the storm has not met yet (duplication goes on until cleared)."""
    left: list[dict[str, Any]] = [
        *storm.shopify.get("/_sandbox/faults").json(),
        *storm.crm.get("/_sandbox/faults").json()["data"],
        *storm.crm.get("/_sandbox/webhooks/faults").json()["data"],
    ]
    return [fault for fault in left if fault["kind"] not in ("duplicate", "webhook_duplicate")]


def clear_faults(storm: Storm) -> None:
    for client in (storm.shopify, storm.crm):
        assert client.delete("/_sandbox/faults").status_code == 200
    assert storm.crm.delete("/_sandbox/webhooks/faults").status_code == 200
    # Webhooks an unfinished out-of-order fault still holds go out now.
    for client in (storm.shopify, storm.crm):
        assert client.post("/_sandbox/webhooks/release").status_code == 200


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


ADDRESS = {
    "firstName": "Ann",
    "lastName": "Lee",
    "address1": "1 Elm St",
    "address2": "Unit 9",
    "city": "Austin",
    "provinceCode": "TX",
    "zip": "78701",
    "countryCode": "US",
}


@dataclass
class Made:
    """What the storm did on each side, to check the other side against."""

    shopify_customers: dict[str, dict[str, str]] = field(default_factory=dict)  # email -> names
    checkouts: list[dict[str, Any]] = field(default_factory=list)  # REST orders
    crm_orders: list[dict[str, Any]] = field(default_factory=list)  # CRM orders
    crm_customers: dict[str, str] = field(default_factory=dict)  # CRM id -> email
    crm_names: dict[str, dict[str, str]] = field(default_factory=dict)  # email -> names


def place_funnel_orders(storm: Storm, made: Made, numbers: range) -> None:
    """Funnel orders placed in the CRM, each by a new customer, with the T-shirt and a custom line."""
    user = f"/_sandbox/users/{storm.crm_user}"
    t_shirt = storm.crm_products()[T_SHIRT]["id"]
    campaign = next(
        c for c in storm.crm.get("/_sandbox/campaigns").json()["data"] if c["user_id"] == storm.crm_user
    )
    for n in numbers:
        email = f"buyer{n}@{DOMAIN}"
        placed = ok(
            storm.crm.post(
                f"{user}/orders",
                json={
                    "campaign_id": campaign["id"],
                    "customer": {
                        "first_name": f"Bo{n}",
                        "last_name": "Chen",
                        "email": email,
                        "address": {
                            "first_name": f"Bo{n}",
                            "last_name": "Chen",
                            "address": f"{n} Oak Ave||Apt 3",
                            "city": "Boston",
                            "postal_code": "02101",
                            "country_code": "US",
                        },
                    },
                    "items": [
                        {"product_id": t_shirt, "quantity": 1},
                        {"product_id": None, "name": "Engraving", "quantity": 1, "price": "5.00"},
                    ],
                    "operator_comment": f"Funnel order {n}",
                    "status": "paid",
                },
            ),
            201,
        )
        made.crm_orders.append(placed["order"])
        made.crm_customers[str(placed["customer"]["id"])] = email
        made.crm_names[email] = {"first_name": f"Bo{n}", "last_name": "Chen"}


def make_changes(storm: Storm) -> Made:
    """A burst of changes on both sides, as fast as the control APIs take them, in the order
    the out-of-order groups above expect."""
    made = Made()
    shop = f"/_sandbox/shops/{SHOP}"
    user = f"/_sandbox/users/{storm.crm_user}"
    crm_products = storm.crm_products()

    # Shopify: the T-shirt's price edited three times (one out-of-order group).
    for price in ("21.00", "22.00", "23.00"):
        ok(
            storm.shopify.put(
                f"{shop}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}", json={"price": price}
            )
        )
    # CRM: the hoodie's price edited three times (one out-of-order group).
    for price in ("57.00", "58.00", "59.00"):
        ok(storm.crm.put(f"{user}/products/{crm_products[HOODIE]['id']}", json={"price": price}))

    # Shopify: a customer added, then renamed twice (one out-of-order group).
    email = f"shopper0@{DOMAIN}"
    first = ok(
        storm.shopify.post(
            f"{shop}/customers",
            json={"firstName": "Lin0", "lastName": "Wu", "email": email, "addresses": [ADDRESS]},
        ),
        201,
    )
    for last_name in ("Wu-Chen", "Chen-Wu"):
        ok(storm.shopify.put(f"{shop}/customers/{first['id']}", json={"lastName": last_name}))
    made.shopify_customers[email] = {"first_name": "Lin0", "last_name": "Chen-Wu"}

    # CRM: funnel orders, each by a new customer (each pair of events one out-of-order group).
    place_funnel_orders(storm, made, range(FUNNEL_ORDERS))
    # CRM: a customer added, then renamed twice (one out-of-order group).
    email = f"member0@{DOMAIN}"
    member = ok(
        storm.crm.post(
            f"{user}/customers",
            json={
                "first_name": "Ada",
                "last_name": "Ng",
                "email": email,
                "address": {
                    "first_name": "Ada",
                    "last_name": "Ng",
                    "address": "9 Pine Rd",
                    "city": "Denver",
                    "postal_code": "80202",
                    "country_code": "US",
                },
            },
        ),
        201,
    )
    for last_name in ("Ng-Lee", "Lee"):
        ok(storm.crm.put(f"{user}/customers/{member['id']}", json={"last_name": last_name}))
    made.crm_customers[str(member["id"])] = email
    made.crm_names[email] = {"first_name": "Ada", "last_name": "Lee"}

    # Shopify: two more customers, one renamed; checkouts by one of them and by two new shoppers.
    created: dict[str, str] = {}
    for n in (1, 2):
        email = f"shopper{n}@{DOMAIN}"
        customer = ok(
            storm.shopify.post(
                f"{shop}/customers",
                json={"firstName": f"Lin{n}", "lastName": "Wu", "email": email, "addresses": [ADDRESS]},
            ),
            201,
        )
        created[email] = str(customer["id"])
        made.shopify_customers[email] = {"first_name": f"Lin{n}", "last_name": "Wu"}
    ok(storm.shopify.put(f"{shop}/customers/{created[f'shopper1@{DOMAIN}']}", json={"firstName": "Lina"}))
    made.shopify_customers[f"shopper1@{DOMAIN}"]["first_name"] = "Lina"
    buyers = [
        (f"shopper2@{DOMAIN}", "Lin2", "Wu"),
        (f"guest0@{DOMAIN}", "Kim", "Park"),
        (f"guest1@{DOMAIN}", "Eve", "Ng"),
    ]
    for email, first_name, last_name in buyers:
        order = ok(
            storm.shopify.post(
                f"{shop}/orders",
                json={
                    "email": email,
                    "firstName": first_name,
                    "lastName": last_name,
                    "lineItems": [
                        {"variantId": T_SHIRT, "quantity": 1},
                        {"title": "Gift wrapping", "price": "3.00", "quantity": 1},
                    ],
                    "shippingAddress": {**ADDRESS, "firstName": first_name, "lastName": last_name},
                    "note": f"Checkout by {first_name}",
                },
            ),
            201,
        )
        made.checkouts.append(order)
        made.shopify_customers.setdefault(email, {"first_name": first_name, "last_name": last_name})
    return made


# -- killing a worker at the worst moment ----------------------------------------------------------


def kill_when_an_answer_is_lost(storm: Storm, worker: Process, mutation: str) -> list[int]:
    """SIGKILL the worker at the worst moment: Shopify has applied its `mutation` (a create) and
    holds back the answer (a `lost_answer` fault), so the job that sent it dies not knowing,
    and runs again once its lease runs out. The fault is used up when the mutation is applied;
    the answer stalls far longer than the app waits for it (EXTERNAL_TIMEOUT_SECONDS), so a
    kill within that wait finds the job still waiting. Returns the jobs the worker held."""
    ok(
        storm.shopify.post(
            "/_sandbox/faults",
            json={"kind": "lost_answer", "shop": SHOP, "mutation": mutation, "seconds": LOST_ANSWER_SECONDS},
        ),
        201,
    )
    os.kill(worker.popen.pid, signal.SIGCONT)  # it may have been paused for a burst
    deadline = time.monotonic() + DEADLINE_SECONDS
    while any(fault["kind"] == "lost_answer" for fault in storm.shopify_faults()):
        assert time.monotonic() < deadline, f"no {mutation} within {DEADLINE_SECONDS}s"
        time.sleep(0.002)  # a look takes a couple of milliseconds; the app waits a second
    worker.popen.kill()
    worker.popen.wait(timeout=10)
    held: list[int] = [row["id"] for row in Job.select(Job.id).where(Job.status == "running").run_sync()]
    assert held, f"{worker.name} held no job when killed"
    return held


def delivery_attempts(storm: Storm) -> dict[str, int]:
    shopify = storm.shopify.get("/_sandbox/webhooks/deliveries", params={"shop": SHOP}).json()["attempts"]
    crm = storm.crm.get("/_sandbox/webhooks/deliveries").json()["attempts"]
    return {"shopify": len(shopify), "crm": len(crm)}


def topics_of(job_ids: list[int]) -> list[str]:
    jobs = Job.select(Job.payload).where(Job.id.is_in(job_ids)).output(load_json=True).run_sync()
    events = [job["payload"].get("event_id", 0) for job in jobs]
    rows = (
        InboxEvent.select(InboxEvent.source, InboxEvent.topic).where(InboxEvent.id.is_in(events)).run_sync()
    )
    return [f"{row['source']}:{row['topic']}" for row in rows]


# -- reading both sides back -------------------------------------------------------------------

VARIANT = "query($id: ID!) { productVariant(id: $id) { price } }"
CUSTOMERS = f'{{ customers(first: 50, query: "{DOMAIN}") {{ nodes {{ id email firstName lastName }} }} }}'
ORDERS = "query($q: String!) { orders(first: 50, query: $q) { nodes { id tags } } }"


def test_a_storm_of_changes_through_faults_and_killed_workers_ends_in_agreement(
    storm: Storm, storm_database: str, tables_bound: None
) -> None:
    started = time.monotonic()
    first_worker = storm.systems.start("worker-1", "tests.e2e.short_lease_worker")
    install(storm)
    funnel_id = publish_funnel(storm)
    wait_until_quiet(storm)  # the catalog import and the funnel's first sync are done
    ready_in = time.monotonic() - started

    crm_before, shopify_before = storm.crm_writes(), storm.shopify_writes()
    crm_orders_before = {order["id"] for order in storm.crm_orders()}
    events_before = int(InboxEvent.count().run_sync())
    jobs_before = int(Job.count().run_sync())
    deliveries_before = delivery_attempts(storm)

    # The burst lands while the worker is paused: all of it waits in the inbox when it resumes.
    turn_faults_on(storm)
    os.kill(first_worker.popen.pid, signal.SIGSTOP)
    made = make_changes(storm)

    def delivered() -> bool:
        shopify = storm.shopify.get("/_sandbox/webhooks/deliveries", params={"shop": SHOP}).json()
        crm = storm.crm.get("/_sandbox/webhooks/deliveries").json()
        return not (shopify["pending"] or shopify["held"] or crm["pending"] or crm["held"])

    wait_for("the burst's webhooks to be delivered", delivered)
    burst_events = int(InboxEvent.count().run_sync()) - events_before

    # The worker resumes and is killed right after Shopify applied one of its orderCreates; a
    # second takes over, more funnel orders come while it is paused, and it is killed right
    # after an applied customerCreate. Then a real `python -m onboarding worker` finishes.
    orphans = kill_when_an_answer_is_lost(storm, first_worker, "orderCreate")
    second_worker = storm.systems.start("worker-2", "tests.e2e.short_lease_worker")

    def taken_over() -> bool:
        jobs = Job.select(Job.status).where(Job.id.is_in(orphans)).run_sync()
        return all(job["status"] == "done" for job in jobs)

    wait_for("the second worker to finish the jobs the first held", taken_over)
    os.kill(second_worker.popen.pid, signal.SIGSTOP)
    place_funnel_orders(storm, made, range(FUNNEL_ORDERS, FUNNEL_ORDERS + LATER_FUNNEL_ORDERS))
    wait_for("the new orders' webhooks to be delivered", delivered)
    orphans += kill_when_an_answer_is_lost(storm, second_worker, "customerCreate")
    storm.systems.start("worker-3", "onboarding", "worker")

    # Every fault gets its chance, then none; then nothing is left to do.
    wait_for("every fault to be met", lambda: not faults_to_meet(storm))
    clear_faults(storm)
    wait_until_quiet(storm)
    storm_seconds = time.monotonic() - started - ready_in

    # -- nothing was given up, and the killed workers' jobs were finished by the next ones
    dead = Job.select(Job.kind, Job.last_error).where(Job.status == "dead").run_sync()
    assert dead == [], dead
    finished = Job.select(Job.id, Job.status).where(Job.id.is_in(orphans)).run_sync()
    assert {row["status"] for row in finished} == {"done"}, finished
    refused = (
        SyncActivity.select(
            SyncActivity.entity_type, SyncActivity.direction, SyncActivity.entity_ref, SyncActivity.reason
        )
        .where((SyncActivity.outcome != "synced") & (SyncActivity.resolved == False))  # noqa: E712
        .run_sync()
    )
    assert refused == [], "\n".join(map(str, refused))

    # -- prices: each synced variant the same on both sides, at its last edit
    crm_products = storm.crm_products()
    prices = {
        variant: (
            storm.shopify_graphql(VARIANT, {"id": variant})["productVariant"]["price"],
            crm_products[variant]["price"],
        )
        for variant in (T_SHIRT, HOODIE)
    }
    assert prices == {T_SHIRT: ("23.00", "23.00"), HOODIE: ("59.00", "59.00")}, prices

    # -- customers: each Shopify customer is one CRM customer, same email and name, at the last edit
    shopify_customers = {
        node["email"]: node for node in storm.shopify_graphql(CUSTOMERS)["customers"]["nodes"]
    }
    crm_customers = storm.crm_customers()
    expected = {**made.shopify_customers, **made.crm_names}
    assert sorted(shopify_customers) == sorted(expected)
    assert sorted(customer["email"] for customer in crm_customers) == sorted(expected)  # once each
    for customer in crm_customers:
        in_shopify = shopify_customers[customer["email"]]
        names = (customer["first_name"], customer["last_name"])
        assert names == (in_shopify["firstName"], in_shopify["lastName"]), (customer, in_shopify)
        assert names == (expected[customer["email"]]["first_name"], expected[customer["email"]]["last_name"])

    # -- orders: each checkout exactly one CRM order, each CRM funnel order exactly one Shopify order
    new_crm_orders = [order for order in storm.crm_orders() if order["id"] not in crm_orders_before]
    from_shopify = Counter(order["external_id"] for order in new_crm_orders if order["source"] == "shopify")
    assert from_shopify == Counter(order["admin_graphql_api_id"] for order in made.checkouts), from_shopify
    assert len(new_crm_orders) == len(made.checkouts) + len(made.crm_orders)
    tagged = storm.shopify_graphql(ORDERS, {"q": "tag:crm-order*"})["orders"]["nodes"]
    from_crm = Counter(tag.removeprefix("crm-order:") for order in tagged for tag in order["tags"])
    assert from_crm == Counter(order["id"] for order in made.crm_orders), from_crm

    # -- no effect twice: the create counters moved by exactly what the storm asked for
    crm_writes = storm.crm_writes() - crm_before
    shopify_writes = storm.shopify_writes() - shopify_before
    assert crm_writes["orders.create"] == len(made.checkouts), crm_writes
    assert crm_writes["customers.create"] == len(made.shopify_customers), crm_writes
    assert shopify_writes["orderCreate"] == len(made.crm_orders), shopify_writes
    assert shopify_writes["customerCreate"] == len(made.crm_customers), shopify_writes

    errors = Counter(
        re.sub(r"retry after [0-9.]+s", "retry after …", str(row["last_error"]))
        for row in Job.select(Job.last_error).where(Job.id > jobs_before).run_sync()
        if row["last_error"]
    )
    deliveries = Counter(delivery_attempts(storm)) - Counter(deliveries_before)
    events = int(InboxEvent.count().run_sync()) - events_before
    print(
        f"\nready in {ready_in:.1f}s (install, catalog, publish); storm settled in {storm_seconds:.1f}s"
        f" (funnel {funnel_id});\nwebhooks: {dict(deliveries)} delivery attempts, {events} distinct events"
        f" stored ({burst_events} from the burst);\nkilled worker-1 after a lost orderCreate answer"
        f" and worker-2 after a lost customerCreate answer; they held {topics_of(orphans)};"
        f"\nlast errors of retried jobs: {dict(errors)};"
        f"\nCRM writes {dict(crm_writes)};\nShopify writes {dict(shopify_writes)}"
    )

    # -- and the storm was what it claims: the faults were met
    met = {error.removeprefix("ExternalServiceError: ") for error in errors}
    assert {
        "Shopify: answered 500",
        "Shopify: timed out",
        "CRM: answered 500",
        "CRM: timed out",
        "CRM: rate limited, retry after …",
    } <= met, errors

    # -- a captured delivery replayed under another topic, another shop, or both changes nothing
    check_captured_deliveries_replayed_change_nothing(storm)


# -- a captured delivery, replayed -------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]  # lowercase names
    body: bytes


class Listener:
    """An endpoint of the test's that a webhook subscription of the app's also sends to: it
    holds each delivery exactly as Shopify sent it, signature included, as a copy captured on
    the way would be."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        deliveries = self.deliveries

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receive)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/captured"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_topic(self, topic: str) -> Delivery | None:
        return next((d for d in self.deliveries if d.headers.get("x-shopify-topic") == topic), None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


SUBSCRIBE = """
mutation($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""

# What each replay is (captured topic, topic and shop it is re-sent under) and whether the
# intake takes it: an update body has the shape of its entity's delete, and a body that names
# no shop is believed for any shop; the flows then re-read from the named shop and change
# nothing. Every other combination fails the topic's shape or the body's shop: refused.
REPLAYS = [
    ("products/update", "products/delete", SHOP, True),
    ("customers/update", "customers/delete", SHOP, True),
    ("products/update", "orders/create", SHOP, False),
    ("products/update", "app/uninstalled", SHOP, False),
    ("customers/update", "shop/redact", SHOP, False),
    ("products/update", "products/update", OTHER_SHOP, True),
    ("customers/update", "customers/update", OTHER_SHOP, True),
    ("products/update", "fulfillments/create", OTHER_SHOP, False),
    ("customers/update", "customers/redact", OTHER_SHOP, False),
    ("products/update", "app/uninstalled", OTHER_SHOP, False),
]


def capture_updates(storm: Storm, listener: Listener) -> dict[str, Delivery]:
    """A products/update and a customers/update of SHOP, as Shopify sent them."""
    for topic in ("PRODUCTS_UPDATE", "CUSTOMERS_UPDATE"):
        created = storm.shopify_graphql(SUBSCRIBE, {"topic": topic, "url": listener.url})
        assert created["webhookSubscriptionCreate"]["userErrors"] == [], created
    ok(
        storm.shopify.put(
            f"/_sandbox/shops/{SHOP}/products/{T_SHIRT_PRODUCT}/variants/{T_SHIRT_VARIANT}",
            json={"price": "24.00"},
        )
    )
    customers = storm.shopify_graphql(CUSTOMERS)["customers"]["nodes"]
    shopper = next(node for node in customers if node["email"] == f"shopper0@{DOMAIN}")
    ok(
        storm.shopify.put(
            f"/_sandbox/shops/{SHOP}/customers/{shopper['id'].rsplit('/', 1)[-1]}", json={"lastName": "Wu"}
        )
    )

    def both_captured() -> dict[str, Delivery] | None:
        found = {topic: listener.of_topic(topic) for topic in ("products/update", "customers/update")}
        return {topic: d for topic, d in found.items() if d is not None} if all(found.values()) else None

    captured = wait_for("the listener to capture both updates", both_captured)
    wait_until_quiet(storm)  # the app has synced both edits: the replays find nothing new
    return captured


def replay(storm: Storm, delivery: Delivery, topic: str, shop: str) -> tuple[str, int]:
    """The captured body and signature under `topic` and `shop`, with a new webhook and event id;
    returns the event id (the intake stores Shopify's deliveries by it) and the answer."""
    event_id = str(uuid.uuid4())
    headers = {
        **{name: value for name, value in delivery.headers.items() if name.startswith("x-shopify-")},
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-shop-domain": shop,
        "x-shopify-webhook-id": str(uuid.uuid4()),
        "x-shopify-event-id": event_id,
    }
    response = httpx.post(f"{storm.systems.app_url}/webhooks/shopify", content=delivery.body, headers=headers)
    return event_id, response.status_code


def both_sides(storm: Storm) -> dict[str, Any]:
    """What the replays must leave as it was, on both sides of both shops."""
    users = storm.crm.get("/_sandbox/users").json()["data"]
    return {
        "crm products": storm.crm_products(),
        "crm customers": storm.crm_customers(),
        "crm orders": storm.crm_orders(),
        "crm writes": storm.crm_writes(),
        "shopify writes": storm.shopify_writes(),
        "other shop's shopify writes": storm.shopify.get(f"/_sandbox/shops/{OTHER_SHOP}/writes").json(),
        "other shop's crm users": [user for user in users if user["shop_domain"] == OTHER_SHOP],
    }


def check_captured_deliveries_replayed_change_nothing(storm: Storm) -> None:
    listener = Listener()
    try:
        captured = capture_updates(storm, listener)
    finally:
        listener.close()
    before = both_sides(storm)
    outcomes = {
        (captured_topic, topic, shop): replay(storm, captured[captured_topic], topic, shop)
        for captured_topic, topic, shop, _ in REPLAYS
    }
    wait_until_quiet(storm)

    for captured_topic, topic, shop, taken in REPLAYS:
        event_id, status = outcomes[(captured_topic, topic, shop)]
        stored = (
            InboxEvent.select(InboxEvent.status)
            .where(InboxEvent.delivery_key.like(f"%{event_id}"))
            .run_sync()
        )
        what = f"{captured_topic} replayed as {topic} for {shop}"
        if taken:
            assert (status, stored) == (200, [{"status": "processed"}]), (what, status, stored)
        else:
            assert status in (400, 401), (what, status)
            assert stored == [], (what, stored)
    assert both_sides(storm) == before
    assert Job.count().where(Job.status == "dead").run_sync() == 0
