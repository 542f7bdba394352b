"""The application factory: everything the app is, assembled from settings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import structlog
from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from admin.router import ADMIN_SESSION_COOKIE, admin_router
from analytics.beacon import BeaconIntake, beacon_key
from billing.controllers import BillingController
from funnels.analytics_scope import shop_of_live_funnel
from funnels.controllers.analytics import FunnelAnalyticsController, ShopAnalyticsController
from funnels.controllers.downsell import DownsellController
from funnels.controllers.lifecycle import FunnelLifecycleController
from funnels.controllers.publishing import FunnelPublishingController
from funnels.controllers.settings import FunnelSettingsController
from funnels.controllers.split_tests import FunnelEntryController, SplitTestController
from funnels.controllers.sync_health import FunnelSyncHealthController
from funnels.controllers.wizard import FunnelWizardController
from funnels.usage import funnel_usage
from iam.app_home import APP_HOME_STATE_KEY
from iam.clients import ShopClients
from iam.controllers import (
    AccountSetupController,
    AppHomeTokenController,
    ConnectController,
    CrmSignInController,
    JwksController,
    ShopifyInstallController,
    SignOutController,
)
from iam.housekeeping import sweep_expired
from iam.provisioning import shop_of_crm_account
from iam.sessions import DatabaseSessionStore, RotatingSessionConfig
from iam.tables import AdminSession
from jobqueue.inbox import InboxWriter
from jobqueue.intake import WebhookIntake, answer
from lib import metrics
from lib.clock import utcnow
from onboarding.composition import (
    Transports,
    build_billing_providers,
    build_iam_context,
    build_worker,
    close_clients,
    signing_key,
    start_periodic_jobs,
)
from onboarding.controllers import DashboardController, HealthController, HomeController
from onboarding.database import (
    KeptConnectionSQLiteEngine,
    app_registry,
    bind_tables,
    engine_from_url,
    expected_migrations,
)
from onboarding.errors import EXCEPTION_HANDLERS, error_body
from onboarding.metrics import MetricsController, process_exiting, request_metrics
from onboarding.observability import RequestContext, configure_logging, current_request_id
from onboarding.privacy import prune_kept_records
from onboarding.security import CsrfUnlessIdToken, SecurityHeaders
from onboarding.settings import Settings
from onboarding.static_assets import STATIC_DIR, template_globals
from onboarding.tracing import litestar_plugin, start_tracing, trace_calls, traced_intake
from sync.activity import prune_history

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_DIR / "templates"

log = structlog.get_logger("funnelsync.app")
error_log = structlog.get_logger("funnelsync.errors")


HOUSEKEEPING_INTERVAL_SECONDS = 15 * 60
CSRF_COOKIE = "csrftoken"
SESSION_COOKIE = "funnelsync_session"


def host_bound(cookie_name: str, settings: Settings) -> str:
    """Under https the `__Host-` prefix binds a cookie to this host: browsers take it only with
    Secure, Path=/ and no Domain, so a sibling subdomain can neither plant nor overwrite it
    (a planted session or CSRF token). Over plain http browsers refuse the prefix."""
    return f"__Host-{cookie_name}" if settings.secure_cookies else cookie_name


async def sweep_periodically() -> None:
    while True:
        try:
            now = utcnow()
            removed = await sweep_expired() + await prune_history(now) + await prune_kept_records(now)
            if removed:
                log.info("expired_rows_removed", rows=removed)
        except Exception:  # a database hiccup must not end housekeeping
            log.exception("housekeeping_failed")
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_SECONDS)


def route_of(path: str) -> str:
    """The route a webhook path reached: "//webhooks/shopify/" counts as /webhooks/shopify."""
    return "/" + "/".join(part for part in path.split("/") if part)


class WebhookRouting:
    """Sends Shopify's, the CRM's and Stripe's webhooks to their lean ASGI app, everything else
    to Litestar.

    It sits inside the request id + access log and security header layers, so webhook
    answers carry both like any other. An exception from the intake (the inbox failing to
    commit, say) is logged with its trace and answered as Litestar's handlers answer on
    /webhooks/: JSON with the request id, no trace.
    """

    def __init__(self, app: ASGIApp, intake: WebhookIntake, serve_intake: ASGIApp | None = None) -> None:
        self.app = app
        self.intake = intake
        # The intake as it is served: inside a server span when tracing is on.
        self.serve_intake: ASGIApp = serve_intake or intake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or self.intake.route(scope["path"]) is None:
            await self.app(scope, receive, send)
            return
        response_started = False
        status_code = 500
        started = time.perf_counter()

        async def send_tracking_start(message: Message) -> None:
            nonlocal response_started, status_code
            if message["type"] == "http.response.start":
                response_started, status_code = True, message["status"]
            await send(message)

        try:
            await self.serve_intake(scope, receive, send_tracking_start)
        except Exception as exc:
            if response_started:
                raise  # too late for an error answer: the server closes the connection
            error_log.exception("unhandled_exception", exc_type=type(exc).__name__)
            await answer(send, 500, error_body(500, current_request_id(scope)))
        finally:
            # Litestar's middleware times the other routes; these never reach it.
            path = scope["path"]
            route = path if path in self.intake.routes else route_of(path)
            metrics.webhook_intake_series(route, status_code).observe(time.perf_counter() - started)


def create_app(settings: Settings, *, transports: Transports | None = None) -> Litestar:
    configure_logging(settings.log_level, settings.log_json)
    registry = app_registry()
    engine = engine_from_url(settings.database_url)
    bind_tables(engine, registry)
    key = signing_key(settings)
    iam = build_iam_context(settings, key, transports or {})
    clients = ShopClients(iam)
    billing = build_billing_providers(settings, clients)
    tracing = start_tracing()
    if tracing:
        trace_calls(iam.shopify.http, iam.crm.http, iam.templates.http)
    worker = build_worker(clients, billing, settings, traced=tracing)
    inbox = InboxWriter()

    @asynccontextmanager
    async def background_worker(app: Litestar) -> AsyncIterator[None]:
        if settings.run_worker:
            try:
                await start_periodic_jobs(settings)
            except Exception:  # an unreachable database must not stop the app from answering probes
                log.exception("periodic_jobs_not_scheduled")
        tasks = (
            [
                *(asyncio.create_task(worker.run_forever()) for _ in range(settings.worker_concurrency)),
                asyncio.create_task(sweep_periodically()),
            ]
            if settings.run_worker
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await inbox.drain()
            await close_clients(iam)
            await billing.aclose()
            process_exiting()

    @asynccontextmanager
    async def database_pool(app: Litestar) -> AsyncIterator[None]:
        pooled = False
        if isinstance(engine, SQLiteEngine):
            # WAL lets readers proceed during a write; the mode is stored in the file.
            await engine.run_ddl("PRAGMA journal_mode=WAL")
        if isinstance(engine, KeptConnectionSQLiteEngine):
            await engine.open_connections()
        if isinstance(engine, PostgresEngine):
            try:
                await engine.start_connection_pool(
                    min_size=settings.database_pool_min, max_size=settings.database_pool_max
                )
                pooled = True
            except (OSError, asyncpg.PostgresError) as exc:
                # Stay up so /healthz answers and /readyz reports the outage; queries
                # open their own connections until the database is back.
                log.error("database_unreachable_at_startup", error=type(exc).__name__)
        try:
            yield
        finally:
            if pooled:
                await engine.close_connection_pool()  # type: ignore[no-untyped-call]
            if isinstance(engine, KeptConnectionSQLiteEngine):
                await engine.close_connections()

    def add_template_globals(jinja: JinjaTemplateEngine) -> None:
        jinja.engine.globals.update(template_globals())
        # App-home pages load App Bridge with the app's client id (the `shopify-api-key` meta).
        jinja.engine.globals.update(
            shopify_api_key=settings.shopify_api_key,
            app_bridge_url=settings.shopify_app_bridge_url,
            app_home_state_key=APP_HOME_STATE_KEY,
        )

    session_config = RotatingSessionConfig(
        key=host_bound(SESSION_COOKIE, settings),
        max_age=settings.session_max_age_seconds,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
        exclude=["/static/", "/healthz", "/readyz", "/metrics", "/admin"],
    )
    admin_session_config = RotatingSessionConfig(
        key=host_bound(ADMIN_SESSION_COOKIE, settings),
        store="admin_sessions",
        max_age=60 * 60 * 8,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    csrf_config = CSRFConfig(
        secret=settings.secret_key,
        cookie_name=host_bound(CSRF_COOKIE, settings),
        cookie_secure=settings.secure_cookies,
        cookie_samesite="lax",
        # Machines (webhooks, probes) and static files never submit our forms: no token
        # cookie to mint for them on every request.
        exclude=["/webhooks/", "/static/", "/healthz", "/readyz", "/metrics"],
    )
    app = Litestar(
        route_handlers=[
            HomeController,
            HealthController,
            DashboardController,
            ShopifyInstallController,
            ConnectController,
            AccountSetupController,
            AppHomeTokenController,
            CrmSignInController,
            JwksController,
            MetricsController,
            SignOutController,
            FunnelWizardController,
            DownsellController,
            SplitTestController,
            FunnelEntryController,
            FunnelSettingsController,
            FunnelPublishingController,
            FunnelLifecycleController,
            FunnelSyncHealthController,
            FunnelAnalyticsController,
            ShopAnalyticsController,
            admin_router(admin_session_config),
            BillingController,
            create_static_files_router(path="/static", directories=[STATIC_DIR]),
        ],
        state=State(
            {
                "settings": settings,
                "expected_migrations": expected_migrations(registry),
                "signing_key": key,
                "worker": worker,
                "iam": iam,
                "clients": clients,
                "billing": billing,
                "funnel_usage_of": funnel_usage,
                "inbox": inbox,
            }
        ),
        dependencies={
            "iam": Provide(lambda: iam, use_cache=True, sync_to_thread=False),
            "clients": Provide(lambda: clients, use_cache=True, sync_to_thread=False),
        },
        lifespan=[database_pool, background_worker],
        # Litestar's CSRF check, skipped only for requests an ID token authenticates (see
        # CsrfUnlessIdToken); so it is listed here rather than given as the app's csrf_config.
        middleware=[
            request_metrics().middleware,
            session_config.middleware,
            DefineMiddleware(CsrfUnlessIdToken, config=csrf_config),
        ],
        plugins=[litestar_plugin()] if tracing else [],
        stores={"sessions": DatabaseSessionStore(), "admin_sessions": DatabaseSessionStore(AdminSession)},
        template_config=TemplateConfig(
            directory=TEMPLATES_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=add_template_globals,
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        logging_config=None,
        openapi_config=None,
        debug=False,
    )
    intake = WebhookIntake(
        inbox,
        worker.wake,
        shopify_app=iam.shopify_app,
        crm_secrets=(settings.crm_client_secret,),
        shop_of_crm_account=shop_of_crm_account,
        # Stripe's events are checked by billing (the SDK) and only with a signing secret: without
        # one the route answers 401 "Stripe is not configured" and stores nothing.
        stripe_verifier=(
            billing.stripe.incoming_event
            if billing.stripe is not None and billing.stripe.config.webhook_secret
            else None
        ),
    )
    # Read at sign-in, where the session's new id comes with a new CSRF token (iam/sessions.py).
    app.csrf_config = csrf_config
    # Outermost layers, around routing itself, so 404/405 answers get them too.
    # The live pages' beacon, as lean as the webhook intake: no session, no CSRF cookie.
    beacon = BeaconIntake(
        WebhookRouting(app.asgi_handler, intake, traced_intake(intake) if tracing else None),
        key=beacon_key(settings.analytics_beacon_key, settings.secret_key),
        funnel_shop=shop_of_live_funnel,
        reload_seconds=settings.analytics_reload_window_seconds,
        script_file=STATIC_DIR / "js" / "beacon.js",
        accept_event_time=not settings.is_production,
    )
    app.asgi_handler = RequestContext(SecurityHeaders(beacon, settings))
    return app
