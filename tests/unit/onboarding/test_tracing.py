"""Traces are on only when OTEL_TRACES_EXPORTER names an exporter, as OpenTelemetry's variables say."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from onboarding.tracing import TracingSettingError, exporter_named, exporter_names


def test_traces_are_off_by_default() -> None:
    assert exporter_names({}) == []


def test_none_and_a_disabled_sdk_keep_traces_off() -> None:
    assert exporter_names({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) == []


def test_named_exporters_turn_traces_on() -> None:
    assert exporter_names({"OTEL_TRACES_EXPORTER": "otlp, Console"}) == ["otlp", "console"]


def test_otlp_is_the_installed_otlp_over_http_exporter() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = exporter_named("otlp")
    try:
        assert isinstance(exporter, OTLPSpanExporter)
    finally:
        exporter.shutdown()  # type: ignore[no-untyped-call]
    assert isinstance(exporter_named("console"), ConsoleSpanExporter)


def test_an_exporter_not_installed_is_refused_with_the_variable_named() -> None:
    with pytest.raises(TracingSettingError, match=r"OTEL_TRACES_EXPORTER.*'zipkin'"):
        exporter_named("zipkin")
