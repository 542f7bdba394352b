"""Spans recorded in memory, for tests that turn tracing on.

OpenTelemetry takes one tracer provider per process, for good: the first test that asks sets
an SDK provider with an in-memory exporter, later ones share it (cleared for each). Apps made
without OTEL_TRACES_EXPORTER start no span, so the provider records nothing of theirs.
"""

from __future__ import annotations

import functools

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@functools.cache
def _exporter() -> InMemorySpanExporter:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def recorded_spans() -> InMemorySpanExporter:
    """The process's in-memory exporter, emptied."""
    exporter = _exporter()
    exporter.clear()
    return exporter
