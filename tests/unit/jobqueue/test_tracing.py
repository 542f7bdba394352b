"""A job's row carries the trace context of what queued it, and its span continues that trace."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from jobqueue.tracing import context_of, current_trace_context


def test_nothing_is_carried_without_a_recording_span() -> None:
    assert current_trace_context() is None


def test_the_carried_context_continues_the_queuing_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("intake") as queuing:
        carried = current_trace_context()
    assert carried is not None
    parent = trace.get_current_span(context_of(carried)).get_span_context()
    assert parent.trace_id == queuing.get_span_context().trace_id
    assert parent.span_id == queuing.get_span_context().span_id


def test_an_unreadable_context_starts_a_trace_of_its_own() -> None:
    assert context_of(None) is None
    assert context_of("not json") is None
    assert context_of("[1]") is None
