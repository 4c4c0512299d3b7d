"""Telemetry: with an in-memory OpenTelemetry exporter attached where the deployed app attaches
Azure Monitor's (PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME), one request's log records carry
request_id, phase, attempt, outcome and error_code as attributes, which App Insights stores as
customDimensions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from provisioning.messages import Delivery
from provisioning.reconcile import handle
from tests.infra import telemetry

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is a dev requirement (pinned)")

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

REQUEST_ID = telemetry.REQUEST_ID
FIELDS = ("request_id", "phase", "attempt", "outcome", "requested_by")


@pytest.fixture
def exporter() -> Iterator[InMemoryLogRecordExporter]:
    with telemetry.exported() as memory:
        yield memory


def test_one_requests_log_records_carry_its_fields(
    exporter: InMemoryLogRecordExporter,
) -> None:
    """Each record of one request (accepted, then failed) has its fields as OTel attributes."""
    world = telemetry.failing_world()
    # Bodies arrive as base64 of UTF-8 JSON, the request's and the chain's alike.
    handle(Delivery("m1", telemetry.wire(telemetry.REQUEST), 1), world.deps)
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
    assert failed.attributes["requested_by"] == "queue"  # the requester's oid, or queue
    assert failed.severity_text == "ERROR"


def test_sdk_request_logging_is_not_exported(exporter: InMemoryLogRecordExporter) -> None:
    """An Azure SDK's per-request INFO line does not reach the exporter."""
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info("Request URL: x")
    assert not exporter.get_finished_logs()


def test_the_emitted_fields_are_the_documented_ones() -> None:
    """The scenarios' records carry exactly the fields the README and the queries document."""
    steps = {"request_id", "phase", "attempt", "outcome", "error_code", "requested_by"}
    sweeper = {"overdue", "rearmed", "drained", "deleted"}  # the sweeper's tick line
    assert telemetry.emitted_fields() == steps | sweeper
