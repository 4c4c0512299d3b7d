"""Hostile bodies through the two queue handlers, with in-memory stand-ins for storage (no I/O).

No ARM: ``Deps.arm`` is None, so any ARM call would fail the test.
"""

from __future__ import annotations

import base64
import json
from typing import Any, cast

from provisioning.poison import handle_poison
from provisioning.reconcile import Delivery, Deps, handle
from provisioning.status import StatusRecord
from provisioning.storage import Outbox, PoisonArchive, StatusStore
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_settings

NESTED = b"[" * 5_000 + b"]" * 5_000  # under 16 KiB, past the parser's recursion limit


class MemoryStatus:
    def __init__(self) -> None:
        self.records: dict[str, StatusRecord] = {}

    def get(self, request_id: str) -> StatusRecord | None:
        return self.records.get(request_id)

    def insert(self, record: StatusRecord) -> StatusRecord | None:
        if record.request_id in self.records:
            return None
        self.records[record.request_id] = record.with_changes(etag="1")
        return self.records[record.request_id]

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        stored = self.records.get(record.request_id)
        if stored is None or stored.etag != record.etag:
            return None
        self.records[record.request_id] = record.with_changes(etag=str(int(stored.etag or 0) + 1))
        return self.records[record.request_id]


class MemoryOutbox:
    def __init__(self) -> None:
        self.poisoned: list[bytes] = []
        self.chained: list[Any] = []

    def send_chain(self, message: Any, delay_seconds: int) -> None:
        self.chained.append(message)

    def send_poison(self, wire: bytes) -> None:
        self.poisoned.append(wire)


class MemoryArchive:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def put(self, entity: dict[str, Any]) -> None:
        self.rows.append(entity)


def _deps(status: MemoryStatus, outbox: MemoryOutbox) -> Deps:
    return Deps(
        settings=make_settings(),
        arm=cast(Any, None),
        status=cast(StatusStore, status),
        outbox=cast(Outbox, outbox),
        clock=lambda: T0,
        jitter=lambda: 0.0,
    )


def _wire(body: bytes) -> bytes:
    return base64.b64encode(body)


def _poison(wire: bytes, status: MemoryStatus) -> list[dict[str, Any]]:
    archive = MemoryArchive()
    delivery = Delivery(id="poison-1", wire=wire, dequeue_count=1)
    handle_poison(delivery, cast(StatusStore, status), cast(PoisonArchive, archive), "q-poison")
    return archive.rows


def test_deeply_nested_body_is_rejected_once_instead_of_raising() -> None:
    """JSON nested 5000 deep: rejected and poisoned once, not a RecursionError retried 5 times."""
    status, outbox = MemoryStatus(), MemoryOutbox()
    wire = _wire(NESTED)
    handle(Delivery(id="m-1", wire=wire, dequeue_count=1), _deps(status, outbox))
    assert outbox.poisoned == [wire]
    assert not outbox.chained
    assert not status.records


def test_poison_trigger_archives_a_deeply_nested_body() -> None:
    """The poison trigger archives the same body with its reason instead of raising."""
    rows = _poison(_wire(NESTED), MemoryStatus())
    assert len(rows) == 1
    assert rows[0]["PartitionKey"] == "_unreadable"
    assert rows[0]["reason"].startswith("InvalidRequest")
    assert "nested too deeply" in rows[0]["reason"]


def test_archive_reason_of_a_rejected_request_is_its_rejection() -> None:
    """A request refused for MAX_NODE_COUNT is archived as InvalidRequest, not RequestIdConflict."""
    body = {
        "request_id": REQUEST_ID,
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-team-a",
        "location": "westeurope",
        "cluster": {"name": "aks-team-a", "node_count": 101},
    }
    status, outbox = MemoryStatus(), MemoryOutbox()
    wire = _wire(json.dumps(body).encode())
    handle(Delivery(id="m-1", wire=wire, dequeue_count=1), _deps(status, outbox))
    assert outbox.poisoned == [wire]
    record = status.get(REQUEST_ID)
    assert record is not None
    assert record.error is not None
    assert record.error.code == "InvalidRequest"
    rows = _poison(wire, status)
    assert rows[0]["reason"].startswith("InvalidRequest: ")
    assert "node_count" in rows[0]["reason"]


def test_request_with_a_forged_chain_field_is_rejected_naming_it() -> None:
    """An SPA request carrying ``chain`` is refused as such, not as a malformed chain message."""
    body = {
        "request_id": REQUEST_ID,
        "subscription_id": SUBSCRIPTION,
        "resource_group": "rg-team-a",
        "location": "westeurope",
        "cluster": {"name": "aks-team-a"},
        "chain": "0" * 32,
    }
    status, outbox = MemoryStatus(), MemoryOutbox()
    wire = _wire(json.dumps(body).encode())
    handle(Delivery(id="m-1", wire=wire, dequeue_count=1), _deps(status, outbox))
    record = status.get(REQUEST_ID)
    assert record is not None and record.error is not None
    assert record.error.details == (
        "chain: is reserved for the function's own re-enqueued messages; the SPA must not send it",
    )
    assert outbox.poisoned == [wire]
