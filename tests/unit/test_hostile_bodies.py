"""Hostile bodies through the two queue handlers, with the shared in-memory fakes (no I/O).

None of them may reach ARM: the fake ARM records every call and the tests assert there is none.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from provisioning.messages import Delivery
from provisioning.poison import handle_poison
from provisioning.reconcile import handle
from tests.documents import edited
from tests.fakes import MemoryArchive, MemoryStatusStore, World
from tests.unit.factories import MAX_ATTEMPTS, REQUEST_ID, T0, make_request, make_settings

NESTED = b"[" * 5_000 + b"]" * 5_000  # under 16 KiB, past the parser's recursion limit


def _world() -> World:
    return World(settings=make_settings(), now=T0)


def _handle(wire: bytes, world: World) -> None:
    handle(Delivery(id="m-1", wire=wire, dequeue_count=1), world.deps)
    assert not world.arm.calls, "a refused body must not reach ARM"


def _wire(body: bytes) -> bytes:
    return base64.b64encode(body)


def _request_wire(**changes: Any) -> bytes:
    """The factories' valid request, edited (``cluster__node_count=...``), as queued text."""
    return _wire(json.dumps(edited(make_request().to_dict(), **changes)).encode())


def _poison(wire: bytes, status: MemoryStatusStore) -> list[dict[str, Any]]:
    archive = MemoryArchive()
    delivery = Delivery(id="poison-1", wire=wire, dequeue_count=1)
    handle_poison(delivery, status, archive, "q-poison", max_attempts=MAX_ATTEMPTS)
    return archive.rows


def test_deeply_nested_body_is_rejected_once_instead_of_raising() -> None:
    """JSON nested 5000 deep: rejected and poisoned once, not a RecursionError retried 5 times."""
    world = _world()
    wire = _wire(NESTED)
    _handle(wire, world)
    assert world.outbox.poisoned == [wire]
    assert not world.outbox.chained
    assert not world.status.records


def test_poison_trigger_archives_a_deeply_nested_body() -> None:
    """The poison trigger archives the same body with its reason instead of raising."""
    rows = _poison(_wire(NESTED), MemoryStatusStore())
    assert len(rows) == 1
    assert rows[0]["PartitionKey"] == "_unreadable"
    assert rows[0]["reason"].startswith("InvalidRequest")
    assert "nested too deeply" in rows[0]["reason"]


def test_archive_reason_of_a_rejected_request_is_its_rejection() -> None:
    """A request refused for MAX_NODE_COUNT is archived as InvalidRequest, not RequestIdConflict."""
    world = _world()
    wire = _request_wire(cluster__node_count=101)
    _handle(wire, world)
    assert world.outbox.poisoned == [wire]
    record = world.status.get(REQUEST_ID)
    assert record is not None
    assert record.error is not None
    assert record.error.code == "InvalidRequest"
    rows = _poison(wire, world.status)
    assert rows[0]["reason"].startswith("InvalidRequest: ")
    assert "node_count" in rows[0]["reason"]


def test_request_with_a_forged_chain_field_is_rejected_naming_it() -> None:
    """An SPA request carrying ``chain`` is refused as such, not as a malformed chain message."""
    world = _world()
    wire = _request_wire(chain="0" * 32)
    _handle(wire, world)
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.error is not None
    assert record.error.details == (
        "chain: is reserved for the function's own re-enqueued messages; the SPA must not send it",
    )
    assert world.outbox.poisoned == [wire]
