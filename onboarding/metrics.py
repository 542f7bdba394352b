"""GET /metrics: what the app counts (lib/metrics.py), in Prometheus' text format.

Guarded by a bearer token (METRICS_TOKEN): without one configured the route does not exist
(404), a wrong or missing token gets 401. Request latency per route template comes from
Litestar's Prometheus middleware (`funnelsync_request_duration_seconds`, `path` being the
route's template, never the raw path); the lean webhook intake, which Litestar does not see,
has its own (`funnelsync_webhook_intake_seconds`, timed in onboarding/app.py).

What the job table holds (due jobs per kind and how long the oldest has been due, dead
letters per kind) is read at scrape time, by the process that answers the scrape, so the
figures are the database's whatever process runs the jobs.

With PROMETHEUS_MULTIPROC_DIR set, every process (app and worker processes alike) counts into
files there and a scrape adds them up (prometheus-client's multiprocess mode); see
docs/architecture.md, "Metrics and traces".
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator, Mapping

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from jobqueue.jobs import KindFigures, queue_figures
from lib import metrics
from lib.clock import utcnow

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
TEXT_FORMAT = "text/plain; version=0.0.4"


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def request_metrics() -> PrometheusConfig:
    """Litestar's Prometheus middleware: latency and counts per route template."""
    return PrometheusConfig(
        app_name="funnelsync",
        prefix=metrics.PREFIX,
        group_path=True,
        exclude=["/metrics", "/static/"],
    )


class JobTableCollector(Collector):
    """The job table's figures as read for this scrape."""

    def __init__(self, figures: Mapping[str, KindFigures]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        due = GaugeMetricFamily(
            f"{metrics.PREFIX}_jobs_due", "Queued jobs due to run now, by kind.", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            f"{metrics.PREFIX}_jobs_oldest_due_seconds",
            "How long the longest-waiting due job has been due, by kind.",
            labels=["kind"],
        )
        dead = GaugeMetricFamily(
            f"{metrics.PREFIX}_dead_letters", "Dead letters waiting for a replay, by kind.", labels=["kind"]
        )
        for kind, figures in sorted(self.figures.items()):
            due.add_metric([kind], figures.due)
            oldest.add_metric([kind], figures.oldest_due_seconds)
            dead.add_metric([kind], figures.dead)
        yield from (due, oldest, dead)


def counted_registry() -> CollectorRegistry:
    """Everything counted: this process's, or every process's in multiprocess mode."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


async def exposition() -> bytes:
    job_table = CollectorRegistry(auto_describe=False)
    job_table.register(JobTableCollector(await queue_figures(utcnow())))
    return generate_latest(counted_registry()) + generate_latest(job_table)


def process_exiting() -> None:
    """In multiprocess mode a process's live gauges (Litestar's requests in progress, the Shopify
    bucket's headroom) leave the sum when it ends."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def bearer_token(request: Request[object, object, State]) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class MetricsController(Controller):
    # Scrapes come every few seconds and are no one's session.
    opt = {"skip_session": True}

    @get("/metrics")
    async def metrics(self, request: Request[object, object, State], state: State) -> Response[bytes]:
        expected: str = state.settings.metrics_token
        if not expected:
            raise NotFoundException  # not configured: as if there were no such route
        if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
            return Response(
                b"Unauthorized",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        # The classic text format every Prometheus reads (Litestar adds the charset).
        return Response(await exposition(), media_type=TEXT_FORMAT)
