"""One trace from a webhook's intake through its job to each connector call, with OTEL_* alone."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from jobqueue.tables import Job
from tests.support.shops import SHOP, install_shop, post_webhook
from tests.support.stack import running_stack
from tests.support.tracing import recorded_spans

UNINSTALLED = {"id": 1, "myshopify_domain": SHOP}


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    chain: list[ReadableSpan] = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.mark.postgres
async def test_a_webhooks_trace_links_its_intake_its_job_and_each_connector_call(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = recorded_spans()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")  # on: the recording provider is kept
    async with running_stack(database_url) as stack:
        token = (await stack.shopify.post(f"/_sandbox/shops/{SHOP}/tokens")).json()["access_token"]
        await install_shop(stack.app, SHOP, access_token=token)
        await stack.drain()
        spans.clear()

        delivered = await post_webhook(stack.client, "app/uninstalled", UNINSTALLED, shop_domain=SHOP)
        assert delivered.status_code == 200, delivered.text
        job = await Job.select(Job.trace_context).order_by(Job.id, ascending=False).first()
        assert job is not None
        assert "traceparent" in (job["trace_context"] or "")
        await stack.drain()

    finished = spans.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished}
    intake = next(span for span in finished if span.kind is SpanKind.SERVER and span.parent is None)
    job_span = next(span for span in finished if span.name == "job sync.process_inbox_event")
    calls = [span for span in finished if span.kind is SpanKind.CLIENT]

    assert job_span.parent is not None
    assert job_span.parent.span_id == intake.context.span_id
    assert job_span.context.trace_id == intake.context.trace_id
    assert job_span.attributes is not None
    assert job_span.attributes["funnelsync.job.kind"] == ("sync.process_inbox_event")
    assert calls, "the job called Shopify: a client span was expected"
    for call in calls:
        assert call.context.trace_id == intake.context.trace_id
        assert job_span in ancestors(call, by_id)


async def test_pages_are_traced_by_litestars_plugin_and_probes_are_not(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = recorded_spans()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    async with running_stack(database_url) as stack:
        assert (await stack.client.get("/")).status_code == 200
        assert (await stack.client.get("/healthz")).status_code == 200
    servers = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert [span.name for span in servers] == ["GET /"]


async def test_traces_are_off_without_otel_traces_exporter(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    async with running_stack(database_url) as stack:
        assert stack.app.state.worker.tracer is None
        await install_shop(stack.app, SHOP)
        delivered = await post_webhook(stack.client, "app/uninstalled", UNINSTALLED, shop_domain=SHOP)
        assert delivered.status_code == 200, delivered.text
        rows = await Job.select(Job.trace_context)
    assert rows
    assert all(row["trace_context"] is None for row in rows)
