"""Traces with OpenTelemetry, configured only by the standard OTEL_* environment variables.

Off unless `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`, or any installed
exporter's entry point name); `OTEL_SDK_DISABLED=true` keeps them off whatever it names. Off,
the SDK is never set up, no middleware is added, no client is instrumented and the worker
starts no spans: the OpenTelemetry API's no-op is all that runs (and the intake's check for a
current span). On, the SDK reads the rest itself: `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES` (the resource), `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*` (batching),
`OTEL_EXPORTER_OTLP_*` (where and how spans are sent).

One trace follows a webhook: the intake's server span (the ASGI instrumentation around the
lean intake), the job it queued (its row carries the trace context, jobqueue/tracing.py), and
every call to Shopify, the CRM and the page builder made by that job (the httpx
instrumentation on each connector's client). Pages get Litestar's OpenTelemetry plugin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import cast

import httpx
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ASGIApp
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

EXPORTER_ENTRY_POINTS = "opentelemetry_traces_exporter"
# OpenTelemetry's default exporter name; the installed OTLP exporter is the HTTP/protobuf one.
OTLP_OVER_HTTP = "otlp_proto_http"
# Where tracing every request would be noise: probes, files, the scrape.
UNTRACED_PATHS = ["/healthz", "/readyz", "/static/", "/metrics"]


class TracingSettingError(ValueError):
    """OTEL_TRACES_EXPORTER names an exporter that is not installed."""


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters asked for; none means traces are off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [name.strip().lower() for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return [name for name in names if name and name != "none"]


def exporter_named(name: str) -> SpanExporter:
    found = entry_points(group=EXPORTER_ENTRY_POINTS, name=name)
    if not found and name == "otlp":
        found = entry_points(group=EXPORTER_ENTRY_POINTS, name=OTLP_OVER_HTTP)
    if not found:
        raise TracingSettingError(f"OTEL_TRACES_EXPORTER: no trace exporter named {name!r} is installed")
    exporter: SpanExporter = next(iter(found)).load()()
    return exporter


def start_tracing(environ: Mapping[str, str] = os.environ) -> bool:
    """Sets up the SDK for this process from the OTEL_* variables; True when traces are on.

    Once per process: a tracer provider set before (by `opentelemetry-instrument`, or a test's
    in-memory exporter) is kept as it is.
    """
    names = exporter_names(environ)
    if not names:
        return False
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(resource=Resource.create())
        for name in names:
            provider.add_span_processor(BatchSpanProcessor(exporter_named(name)))
        trace.set_tracer_provider(provider)
    return True


def litestar_plugin() -> OpenTelemetryPlugin:
    return OpenTelemetryPlugin(OpenTelemetryConfig(exclude=UNTRACED_PATHS))


def traced_intake(intake: ASGIApp) -> ASGIApp:
    """The webhook intake inside a server span, which continues a caller's `traceparent`."""
    # OpenTelemetry types ASGI loosely (any mutable mapping); it is the same protocol.
    return cast("ASGIApp", OpenTelemetryMiddleware(intake))


def trace_calls(*clients: httpx.AsyncClient) -> None:
    """A client span for every call these clients make, and the trace context in its headers."""
    for client in clients:
        HTTPXClientInstrumentor.instrument_client(client)
