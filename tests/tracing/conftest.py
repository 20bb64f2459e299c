"""Tracing on, into an in-memory exporter, for the duration of a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from analytics_gateway import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Install a provider before anything that reads `tracing.enabled()` is built
    (an app's schema adds its operation spans only then)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()
        provider.shutdown()
