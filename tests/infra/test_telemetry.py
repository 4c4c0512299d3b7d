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
from typing import Any, cast

import pytest

from provisioning.arm import Arm, CreateStarted, GroupView, OperationView
from provisioning.errors import ErrorInfo
from provisioning.reconcile import Delivery, Deps, handle
from provisioning.settings import Settings
from provisioning.status import StatusRecord
from provisioning.storage import Outbox, StatusStore
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


class _Statuses:
    """The status table in memory, with ETags."""

    def __init__(self) -> None:
        self.records: dict[str, StatusRecord] = {}
        self._etag = 0

    def _stored(self, record: StatusRecord) -> StatusRecord:
        self._etag += 1
        stored = record.with_changes(etag=str(self._etag))
        self.records[record.request_id] = stored
        return stored

    def get(self, request_id: str) -> StatusRecord | None:
        return self.records.get(request_id)

    def insert(self, record: StatusRecord) -> StatusRecord | None:
        return None if record.request_id in self.records else self._stored(record)

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        current = self.records.get(record.request_id)
        if current is None or current.etag != record.etag:
            return None
        return self._stored(record)


class _Outbox:
    def __init__(self) -> None:
        self.chain: list[tuple[str, int]] = []
        self.poison: list[bytes] = []

    def send_chain(self, message: Any, delay_seconds: int) -> None:
        self.chain.append((message.to_json(), delay_seconds))

    def send_poison(self, body: bytes) -> None:
        self.poison.append(body)


class _Arm:
    """ARM as one request sees it: the group appears, the AKS create starts, then fails."""

    def __init__(self) -> None:
        self.group_id: str | None = None

    def get_group(self, subscription_id: str, name: str) -> GroupView:
        if self.group_id is None:
            return GroupView(exists=False)
        return GroupView(exists=True, state="Succeeded", id=self.group_id)

    def create_group(self, subscription_id: str, name: str, *args: Any, **kwargs: Any) -> GroupView:
        self.group_id = f"/subscriptions/{subscription_id}/resourceGroups/{name}"
        return GroupView(exists=True, state="Succeeded", id=self.group_id)

    def start_cluster_create(
        self, subscription_id: str, group: str, name: str, *args: Any, **kwargs: Any
    ) -> CreateStarted:
        cluster = f"{self.group_id}/providers/Microsoft.ContainerService/managedClusters/{name}"
        operation = f"https://management.azure.com/subscriptions/{subscription_id}/providers/Microsoft.ContainerService/locations/westeurope/operations/op1"
        return CreateStarted(cluster_id=cluster, operation_url=operation, retry_after=None)

    def get_operation(self, subscription_id: str, url: str) -> OperationView:
        return OperationView("Failed", ErrorInfo("QuotaExceeded", "no cores left"), None)


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


def _deps(outbox: _Outbox) -> Deps:
    return Deps(
        settings=Settings(allowed_subscriptions=frozenset({SUBSCRIPTION})),
        arm=cast(Arm, _Arm()),
        status=cast(StatusStore, _Statuses()),
        outbox=cast(Outbox, outbox),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        jitter=lambda: 0.0,
    )


def test_one_requests_log_records_carry_its_fields(
    exporter: InMemoryLogRecordExporter,
) -> None:
    """Each record of one request (accepted, then failed) has its fields as OTel attributes."""
    outbox = _Outbox()
    deps = _deps(outbox)
    # Bodies arrive as base64 of UTF-8 JSON, the request's and the chain's alike.
    body = base64.b64encode(json.dumps(REQUEST).encode())
    handle(Delivery("m1", body, 1), deps)
    assert len(outbox.chain) == 1, "the first step should hand over to a chain message"
    handle(Delivery("m2", base64.b64encode(outbox.chain[0][0].encode()), 1), deps)
    assert outbox.poison, "the failed create should end in the poison queue"

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
