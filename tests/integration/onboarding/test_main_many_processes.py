"""The production topology under load: two app processes, two worker processes, one PostgreSQL.
(Here and not in tests/e2e: it is asyncio throughout, and the browser tests' package keeps
Playwright's event loop running on the main thread.)

Everything the load touches is a real process on 127.0.0.1: the sandboxes (launcher), two
`python -m onboarding serve` with RUN_WORKER=false behind no balancer (the test sends each
delivery to both, as Shopify may deliver one twice), a real `python -m onboarding worker` and a
worker with a short lease (tests/e2e/short_lease_worker.py: the same command, only the lease is
3 s so the jobs a killed worker held come back within the test). The shop is installed and its
funnel (which keeps orders, and so customers, in sync) published by an app in this process
first, on the port the first app process takes over.

The load: customers made in the Shopify sandbox while it holds its own webhooks back, then one
customers/create delivery per customer, Shopify's documented payload
(tests/fixtures/shopify_webhooks/customers.create.json) carrying that customer's id and email,
signed as Shopify signs. Half-way, one app and one worker are SIGKILLed; a delivery that got no
200 is sent again to the app left (Shopify retries what was not answered 200).

Every delivery must be applied exactly once: one inbox row and one job per delivery, every job
done, each customer once in the CRM, and the CRM's customer-create counter moved by exactly the
number of customers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn

from onboarding.app import create_app
from onboarding.settings import DEVELOPMENT_SHOPIFY_SECRET
from sandbox.common.clock import ManualClock
from tests.support.app import TEST_SIGNING_KEY, make_settings
from tests.support.databases import postgres_execute, postgres_url
from tests.support.environment import PROJECT_DIR
from tests.support.live_funnel import live_funnel
from tests.support.processes import free_port, start_process, stop_process, wait_until_healthy
from tests.support.shops import SHOP
from tests.support.signatures import webhook_signature
from tests.support.stack import Stack

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(240)]

CUSTOMERS = 40
SEND_CONCURRENCY = 8
KILL_APP_AFTER = 4  # deliveries of the second half answered before the first app is killed
DEADLINE_SECONDS = 45.0
START_DEADLINE_SECONDS = 90.0
POLL_SECONDS = 0.05
DOMAIN = "many-processes.example"
SECRET_KEY = "test-secret-key-with-enough-length-0123456789"  # make_settings' own
DOCUMENTED_CUSTOMER: dict[str, Any] = json.loads(
    (PROJECT_DIR / "tests/fixtures/shopify_webhooks/customers.create.json").read_text()
)
INBOX_OF_DELIVERIES = "SELECT id, delivery_key, status FROM inbox_event WHERE delivery_key = ANY($1::text[])"
# The jobs processing those inbox rows (their payload names the row).
JOBS_OF_DELIVERIES = """
SELECT j.status, (j.payload::jsonb ->> 'event_id')::int AS event_id
FROM job j JOIN inbox_event e ON (j.payload::jsonb ->> 'event_id')::int = e.id
WHERE j.kind = 'sync.process_inbox_event' AND e.delivery_key = ANY($1::text[])
"""
CUSTOMER_CREATE = """
mutation($input: CustomerInput!) { customerCreate(input: $input) {
  customer { id } userErrors { field message } } }
"""


class QuietServer(uvicorn.Server):
    """uvicorn inside the test's loop, leaving signals alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def poll(description: str, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE_SECONDS}s: {description}")
        await asyncio.sleep(POLL_SECONDS)  # polling with a deadline


@dataclass(frozen=True)
class Topology:
    urls: dict[str, str]
    database: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def database(postgres_template: str) -> Iterator[str]:
    name = f"funnelsync_many_{uuid.uuid4().hex[:10]}"
    postgres_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield postgres_url(name)
    finally:
        postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, str]]:
    """Shopify, the CRM and the template service; they call the first app's port back."""
    ports = {name: free_port() for name in ("app", "shopify", "crm", "templates")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    args = [arg for name in ("shopify", "crm", "templates") for arg in (f"--{name}", str(ports[name]))]
    process, log_path, log = start_process(
        [sys.executable, "-m", "sandbox.launcher", *args, "--app-url", urls["app"]],
        dict(os.environ),
        "many-processes-sandboxes.log",
    )
    try:
        for name in ("shopify", "crm", "templates"):
            wait_until_healthy(f"{urls[name]}/healthz", process, log_path)
        yield urls
    finally:
        stop_process(process, log)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def topology(database: str, sandboxes: dict[str, str]) -> AsyncIterator[Topology]:
    """The shop installed and its funnel live, by an app served in this process on the first app's
    port; it stops before the app processes start."""
    urls = sandboxes
    overrides: dict[str, Any] = {
        "app_base_url": urls["app"],
        "shopify_shop_base_url": f"{urls['shopify']}/shops/{{shop}}",
        "crm_base_url": urls["crm"],
        "templates_base_url": urls["templates"],
        "log_level": "WARNING",
    }
    app = create_app(make_settings(database, **overrides))
    server = QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=int(urls["app"].rsplit(":", 1)[1]), log_config=None)
    )
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        if serving.done():
            serving.result()  # re-raises why it could not start
        return server.started

    await poll("the set-up app serves", started)
    try:
        async with (
            httpx.AsyncClient(base_url=urls["app"]) as client,
            httpx.AsyncClient(base_url=urls["shopify"], timeout=30) as shopify,
            httpx.AsyncClient(base_url=urls["crm"], timeout=30) as crm,
            httpx.AsyncClient(base_url=urls["templates"]) as templates,
        ):
            stack = Stack(app, client, shopify, crm, templates, ManualClock())
            await live_funnel(stack)

            async def settled() -> bool:
                return not await stack.drain() and not await pending_webhooks(shopify, crm)

            await poll("the set-up settles", settled)
    finally:
        server.should_exit = True
        await serving
    env = {
        **os.environ,
        "APP_ENV": "test",
        "APP_BASE_URL": urls["app"],
        "DATABASE_URL": database,
        "SHOPIFY_SHOP_BASE_URL": overrides["shopify_shop_base_url"],
        "CRM_BASE_URL": urls["crm"],
        "TEMPLATES_BASE_URL": urls["templates"],
        "SECRET_KEY": SECRET_KEY,
        "APP_SIGNING_KEY_FILE": str(TEST_SIGNING_KEY),
        "RUN_WORKER": "false",  # the production topology: jobs only in the worker processes
        "PYTHONUNBUFFERED": "1",  # each log line in its file as it happens
        "LOG_JSON": "true",  # the worker to kill is found by the id its first line names
    }
    yield Topology(urls, database, env)


async def pending_webhooks(shopify: httpx.AsyncClient, crm: httpx.AsyncClient) -> int:
    held = (await shopify.get("/_sandbox/webhooks/deliveries", params={"webhook_id": "-"})).json()
    sent = (await crm.get("/_sandbox/webhooks/deliveries", params={"event_id": "-"})).json()
    return int(held["pending"]) + int(sent["pending"])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes]


def start(name: str, args: list[str], env: dict[str, str]) -> Process:
    popen, log_path, log = start_process([sys.executable, "-m", *args], env, f"many-processes-{name}.log")
    return Process(name, popen, log_path, log)


def signed_delivery(customer_id: int, email: str) -> tuple[bytes, dict[str, str]]:
    """Shopify's documented customers/create body for this customer, with Shopify's headers."""
    payload = {
        **DOCUMENTED_CUSTOMER,
        "id": customer_id,
        "email": email,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "default_address": {**DOCUMENTED_CUSTOMER["default_address"], "customer_id": customer_id},
    }
    body = json.dumps(payload).encode()

    return body, {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "customers/create",
        "X-Shopify-Hmac-Sha256": webhook_signature(body, DEVELOPMENT_SHOPIFY_SECRET),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": f"many-{customer_id}",
        "X-Shopify-API-Version": "2026-10",
    }


async def until_ready(process: Process, url: str) -> None:
    """Four processes starting at once on a busy machine take a while: a deadline of its own."""
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            assert process.popen.poll() is None, f"{process.name} exited:\n{process.log_path.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"{process.name} not ready:\n{process.log_path.read_text()}"
            await asyncio.sleep(POLL_SECONDS)  # polling with a deadline


def worker_id_in(log_path: Path) -> str | None:
    """The id a worker process leases jobs under, from its `worker_started` log line (once written)."""
    for line in log_path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == "worker_started":
                return str(entry["worker_id"])
    return None


async def make_shopify_customers(shopify: httpx.AsyncClient, count: int) -> dict[int, str]:
    token = (await shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
    made: dict[int, str] = {}
    for n in range(count):
        email = f"customer-{n}@{DOMAIN}"
        answer = await shopify.post(
            f"/shops/{SHOP}/admin/api/2026-10/graphql.json",
            json={
                "query": CUSTOMER_CREATE,
                "variables": {"input": {"email": email, "firstName": "Many", "lastName": f"Processes {n}"}},
            },
            headers={"X-Shopify-Access-Token": token},
        )
        created = answer.json()["data"]["customerCreate"]
        assert not created["userErrors"], created
        made[int(created["customer"]["id"].rsplit("/", 1)[1])] = email
    return made


async def crm_customer_emails(crm: httpx.AsyncClient) -> list[str]:
    customers = (await crm.get("/_sandbox/customers")).json()["data"]
    return [str(c["email"]) for c in customers if str(c.get("email") or "").endswith(f"@{DOMAIN}")]


async def crm_customer_creates(crm: httpx.AsyncClient) -> int:
    return int((await crm.get("/_sandbox/writes")).json().get("customers.create", 0))


async def test_deliveries_to_two_apps_with_an_app_and_a_worker_killed_are_applied_once(
    topology: Topology,
) -> None:
    urls, env = topology.urls, topology.env
    app_urls = [urls["app"], f"http://127.0.0.1:{free_port()}"]
    processes: list[Process] = []
    async with (
        httpx.AsyncClient(base_url=urls["shopify"], timeout=30) as shopify,
        httpx.AsyncClient(base_url=urls["crm"], timeout=30) as crm,
        httpx.AsyncClient(timeout=5) as sender,
    ):
        try:
            for n, url in enumerate(app_urls):
                port = url.rsplit(":", 1)[1]
                processes.append(start(f"app{n}", ["onboarding", "serve", "--port", port], env))
            processes.append(start("worker0", ["tests.e2e.short_lease_worker"], env))
            processes.append(start("worker1", ["onboarding", "worker"], env))
            for process, url in zip(processes, app_urls, strict=False):
                await until_ready(process, url)
            killed_app, killed_worker = processes[0], processes[2]

            # The sandbox keeps its own customers/create deliveries back: the test is Shopify here.
            held = await shopify.post(
                "/_sandbox/faults",
                json={"kind": "webhook_out_of_order", "shop": SHOP, "path": "webhooks", "count": 1000},
            )
            assert held.status_code == 201, held.text
            creates_before = await crm_customer_creates(crm)
            customers = await make_shopify_customers(shopify, CUSTOMERS)
            deliveries = [signed_delivery(customer_id, email) for customer_id, email in customers.items()]

            first_half, second_half = deliveries[: CUSTOMERS // 2], deliveries[CUSTOMERS // 2 :]
            refused_by_the_killed_app: list[int] = []
            slots = asyncio.Semaphore(SEND_CONCURRENCY)

            async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
                try:
                    return (
                        await sender.post(f"{url}/webhooks/shopify", content=body, headers=headers)
                    ).status_code
                except httpx.TransportError:
                    return 0  # the app was killed under this delivery, or is gone

            answered_after_half = 0

            async def deliver(body: bytes, headers: dict[str, str]) -> None:
                nonlocal answered_after_half
                async with slots:
                    statuses = await asyncio.gather(*(post(url, body, headers) for url in app_urls))
                    if statuses[0] != 200:
                        refused_by_the_killed_app.append(statuses[0])
                    deadline = time.monotonic() + DEADLINE_SECONDS
                    while 200 not in statuses:  # Shopify retries a delivery not answered 200
                        assert time.monotonic() < deadline, f"never answered 200: {headers}"
                        statuses = [await post(app_urls[1], body, headers)]
                if headers in second_half_headers:
                    answered_after_half += 1
                    if answered_after_half == KILL_APP_AFTER:
                        # The other deliveries of the second half are in flight or still to come.
                        killed_app.popen.send_signal(signal.SIGKILL)

            async def doomed_worker_holds_a_job() -> bool:
                doomed_worker = worker_id_in(killed_worker.log_path)
                held = await connection.fetchval(
                    "SELECT count(*) FROM job WHERE status = 'running' AND locked_by = $1", doomed_worker
                )
                return bool(held)

            second_half_headers = [headers for _, headers in second_half]
            connection = await asyncpg.connect(topology.database)
            try:
                started = time.monotonic()
                await asyncio.gather(*(deliver(*delivery) for delivery in first_half))
                # Mid-load: jobs queued, and the worker to kill holding one of them.
                await poll("the worker to kill holds a job", doomed_worker_holds_a_job)
                killed_worker.popen.send_signal(signal.SIGKILL)
                await asyncio.gather(*(deliver(*delivery) for delivery in second_half))
                assert killed_app.popen.wait(timeout=5) == -signal.SIGKILL
                assert killed_worker.popen.wait(timeout=5) == -signal.SIGKILL

                keys = [f"shopify:many-{customer_id}" for customer_id in customers]

                async def all_applied() -> bool:
                    jobs = await connection.fetch(JOBS_OF_DELIVERIES, keys)
                    unfinished = sum(job["status"] != "done" for job in jobs)
                    return unfinished == 0 and len(await crm_customer_emails(crm)) >= CUSTOMERS

                await poll("every delivery applied", all_applied)
                elapsed = time.monotonic() - started
                inbox_rows = await connection.fetch(INBOX_OF_DELIVERIES, keys)
                jobs = await connection.fetch(JOBS_OF_DELIVERIES, keys)
            finally:
                await connection.close()
        finally:
            for process in processes:
                stop_process(process.popen, process.log)

        assert sorted(row["delivery_key"] for row in inbox_rows) == sorted(keys)
        assert {row["status"] for row in inbox_rows} == {"processed"}
        assert sorted(job["event_id"] for job in jobs) == sorted(row["id"] for row in inbox_rows)
        assert {job["status"] for job in jobs} == {"done"}
        assert sorted(await crm_customer_emails(crm)) == sorted(customers.values())
        assert await crm_customer_creates(crm) - creates_before == CUSTOMERS
        assert refused_by_the_killed_app, "the killed app answered every delivery: it was not killed mid-load"
        print(
            f"\n  {CUSTOMERS} deliveries to 2 apps applied once in {elapsed:.1f} s;"
            f" {len(refused_by_the_killed_app)} unanswered by the killed app"
        )
