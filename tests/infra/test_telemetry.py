"""Telemetry: with an in-memory OpenTelemetry exporter attached where the deployed app attaches
Azure Monitor's (PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME), one request's log records carry
request_id, phase, attempt, outcome and error_code as attributes, which App Insights stores as
customDimensions."""

from __future__ import annotations

import base64
import json
import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from provisioning.errors import ErrorInfo
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.settings import Settings
from provisioning.views import OperationView
from tests.fakes import World
from tests.infra import bicep

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is a dev requirement (pinned)")

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
REQUEST_ID = "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10"
REQUEST = {
    "request_id": REQUEST_ID,
    "subscription_id": SUBSCRIPTION,
    "resource_group": "rg-telemetry",
    "location": "westeurope",
    "cluster": {"name": "aks-telemetry", "node_count": 1, "vm_size": "Standard_D4s_v5"},
}
FIELDS = ("request_id", "phase", "attempt", "outcome")


def _deployed_logger_name() -> str:
    """The logger the worker's Azure Monitor exporter is attached to, as app.bicep sets it."""
    settings = {setting.name: setting for setting in bicep.app_settings()}
    name = settings["PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"].value
    assert name is not None
    return name


@pytest.fixture
def exporter() -> Iterator[InMemoryLogRecordExporter]:
    """An OTel LoggingHandler (what Azure Monitor's distro installs) exporting to memory."""
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    with warnings.catch_warnings():
        # opentelemetry-sdk 1.45 deprecates its LoggingHandler; the distro still uses it.
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger(_deployed_logger_name())
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield memory
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        provider.shutdown()


def _world() -> World:
    """ARM as one request sees it: the group appears, the AKS create starts, then fails."""
    world = World(
        settings=Settings(allowed_subscriptions=frozenset({SUBSCRIPTION})),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world.arm.operation = OperationView("Failed", ErrorInfo("QuotaExceeded", "no cores left"), None)
    return world


def test_one_requests_log_records_carry_its_fields(
    exporter: InMemoryLogRecordExporter,
) -> None:
    """Each record of one request (accepted, then failed) has its fields as OTel attributes."""
    world = _world()
    # Bodies arrive as base64 of UTF-8 JSON, the request's and the chain's alike.
    body = base64.b64encode(json.dumps(REQUEST).encode())
    handle(Delivery("m1", body, 1), world.deps)
    assert len(world.outbox.chained) == 1, "the first step should hand over to a chain message"
    handle(world.outbox.chain_delivery(0, "m2"), world.deps)
    assert world.outbox.poisoned, "the failed create should end in the poison queue"

    records = [data.log_record for data in exporter.get_finished_logs()]
    ours = [r for r in records if (r.attributes or {}).get("request_id") == REQUEST_ID]
    assert len(ours) == 2, [r.body for r in records]
    for record in ours:
        attributes = dict(record.attributes or {})
        missing = [field for field in FIELDS if field not in attributes]
        assert not missing, f"{record.body!r} lacks {missing}"
        assert isinstance(attributes["attempt"], int)
        assert REQUEST_ID in str(record.body)  # the Portal's text view keeps the fields too
    accepted, failed = ours
    assert accepted.attributes is not None and failed.attributes is not None
    assert accepted.attributes["phase"] == "creating_cluster"
    assert failed.attributes["phase"] == "failed"
    assert failed.attributes["error_code"] == "QuotaExceeded"
    assert failed.severity_text == "ERROR"


def test_sdk_request_logging_is_not_exported(exporter: InMemoryLogRecordExporter) -> None:
    """An Azure SDK's per-request INFO line does not reach the exporter."""
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info("Request URL: x")
    assert not exporter.get_finished_logs()
