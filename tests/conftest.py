"""Shared fixtures: databases built from the real migrations, the app in-process.

SQLite runs for every test; tests marked `postgres` run once more on PostgreSQL when it
is reachable (REQUIRE_POSTGRES=1 turns its absence into a failure).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import pytest
from litestar import Litestar

from onboarding.app import create_app
from onboarding.settings import Environment, Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
TEST_SIGNING_KEY = Path(tempfile.gettempdir()) / "funnelsync-test-signing-key.pem"


def require(name: str) -> bool:
    return os.environ.get(name, "") == "1"


def run_migrations(database_url: str) -> None:
    """Applies the migrations through Piccolo's CLI, exactly as an operator would."""
    result = subprocess.run(
        [sys.executable, "-m", "piccolo.main", "migrations", "forwards", "all"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 or "Error" in result.stdout:
        raise RuntimeError(f"migrations failed:\n{result.stdout}\n{result.stderr}")


def postgres_url(database: str) -> str:
    return TEST_POSTGRES_URL.rsplit("/", 1)[0] + f"/{database}"


async def _postgres_execute(sql: str) -> None:
    connection = await asyncpg.connect(TEST_POSTGRES_URL, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def postgres_execute(sql: str) -> None:
    asyncio.run(_postgres_execute(sql))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    run_migrations(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    name = f"funnelsync_tpl_{uuid.uuid4().hex[:10]}"
    try:
        postgres_execute(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL is not reachable at {TEST_POSTGRES_URL}: {exc}"
        if require("REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        run_migrations(postgres_url(name))
        yield name
    finally:
        postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        engines = ["sqlite", "postgres"] if metafunc.definition.get_closest_marker("postgres") else ["sqlite"]
        metafunc.parametrize("engine_name", engines)


@pytest.fixture
def database_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database per test, copied from one built by the migrations."""
    if engine_name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "app.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"funnelsync_test_{uuid.uuid4().hex[:10]}"
    postgres_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield postgres_url(name)
    finally:
        postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_env": Environment.test,
        "database_url": database_url,
        "app_base_url": "http://testserver",
        "secret_key": "test-secret-key-with-enough-length-0123456789",
        "shopify_shop_base_url": "http://shopify.test/shops/{shop}",
        "app_signing_key_file": TEST_SIGNING_KEY,
        "run_worker": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@asynccontextmanager
async def lifespan_of(app: Litestar) -> AsyncIterator[None]:
    """Runs the app's lifespan in one task of this test's loop.

    pytest-asyncio sets up and tears down async fixtures in different tasks, and the
    lifespan's anyio task group must be entered and left by the same one.
    """
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # re-raises the start-up failure
    try:
        yield
    finally:
        stop.set()
        await task


def asgi_client(app: Litestar, base_url: str = "http://testserver") -> httpx.AsyncClient:
    # httpx types its ASGI app more narrowly than Litestar's (correct) signature.
    transport = httpx.ASGITransport(app=cast(Any, app))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this test's event loop, through its lifespan, over ASGI."""
    async with lifespan_of(app), asgi_client(app) as client:
        yield client
