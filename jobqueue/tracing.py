"""A job continues the trace of what queued it (a webhook's intake, a merchant's request).

The queuing side writes the current W3C trace context (OpenTelemetry's propagator: the
`traceparent` and `tracestate` headers) into the job's row; the worker starts the job's span
as a child of it, and every connector call made inside becomes a child of the job's span
(the httpx instrumentation). With tracing off nothing is traced: there is no current span,
so nothing is written, and the worker has no tracer.
"""

from __future__ import annotations

import json

from opentelemetry import propagate, trace
from opentelemetry.context import Context


def current_trace_context() -> str | None:
    """The current span's context as JSON, or None when no span is being recorded (tracing off:
    one context-variable read)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def context_of(trace_context: str | None) -> Context | None:
    """The parent a job's span continues, from what its row holds (None: a trace of its own)."""
    if not trace_context:
        return None
    try:
        carrier = json.loads(trace_context)
    except ValueError:
        return None
    if not isinstance(carrier, dict):
        return None
    return propagate.extract({str(key): str(value) for key, value in carrier.items()})
