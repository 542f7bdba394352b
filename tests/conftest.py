"""Shared fixtures: databases built from the real migrations, the app in-process.

SQLite runs for every test; tests marked `postgres` run once more on PostgreSQL when it
is reachable (REQUIRE_POSTGRES=1 turns its absence into a failure). Only fixtures live here:
the helpers they use are in tests/support/, where test modules import them from.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from litestar import Litestar

from connectors.shopify import GraphQLResult, ShopifyClient
from onboarding.app import create_app
from onboarding.settings import Settings
from tests.support.app import asgi_client, lifespan_of, make_settings
from tests.support.databases import (
    TEST_POSTGRES_URL,
    postgres_execute,
    postgres_url,
    run_migrations,
)
from tests.support.environment import require
from tests.support.shopify_admin_schema import SentDocument, sent_document_errors


@pytest.fixture(autouse=True)
def logging_put_back() -> Iterator[None]:
    """Every create_app points structlog and the root logger at sys.stdout as it is then: in a
    test using capsys, a stream closed when the test ends. Both are put back afterwards, so a
    later test that logs without an app of its own never writes to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def shopify_documents_checked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[SentDocument]]:
    """Every GraphQL request the app sends to Shopify in any test, document and variables, is
    checked against Shopify's published Admin schema (tests/support/shopify_admin_schema.py).

    They are taken where the one Shopify client posts them (`ShopifyClient._graphql_once`), so a
    document built at run time is checked as much as a constant, with the variables the real code
    built. A request Shopify's schema refuses fails the test that made the app send it, when the test
    ends: the app may have caught the sandbox's answer, never the schema's. A test that sends a
    document Shopify would refuse on purpose says so with `@pytest.mark.shopify_schema_unchecked`.
    """
    sent: list[SentDocument] = []
    send = ShopifyClient._graphql_once

    async def recorded(
        client: ShopifyClient, shop: str, access_token: str, query: str, variables: dict[str, Any] | None
    ) -> GraphQLResult:
        sent.append(SentDocument(client.api_version, query, dict(variables or {})))
        return await send(client, shop, access_token, query, variables)

    monkeypatch.setattr(ShopifyClient, "_graphql_once", recorded)
    yield sent
    if log := os.environ.get("SHOPIFY_DOCUMENTS_LOG"):
        # Which documents a run made the app send (coverage of the check): one JSON line each.
        with open(log, "a", encoding="utf-8") as file:
            file.writelines(
                json.dumps({"test": request.node.nodeid, "document": d.document, "variables": d.variables})
                + "\n"
                for d in sent
            )
    if request.node.get_closest_marker("shopify_schema_unchecked"):
        return
    refused = {
        f"{document.operation_name}: {error}" for document in sent for error in sent_document_errors(document)
    }
    if refused:
        pytest.fail("Shopify's Admin schema refuses what the app sent:\n" + "\n".join(sorted(refused)))


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


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this test's event loop, through its lifespan, over ASGI."""
    async with lifespan_of(app), asgi_client(app) as client:
        yield client


@pytest.fixture
async def database(app: Litestar) -> AsyncIterator[None]:
    """Binds the tables to this test's database (create_app does it) and runs the lifespan."""
    async with lifespan_of(app):
        yield
