"""The requester table, like every other table the app writes, turns an outage into
StorageUnavailable, so the step that calls it defers its message instead of crashing."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from localazure.azurite import Azurite
from provisioning.errors import StorageUnavailable
from provisioning.storage import RequesterTable, StorageConnection
from provisioning.views import Slot

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_requesters(azurite: Azurite) -> RequesterTable:
    """Azurite's account and key, but a table endpoint where nothing listens."""
    parts = dict(part.split("=", 1) for part in azurite.connection_string.split(";") if "=" in part)
    parts["TableEndpoint"] = f"http://127.0.0.1:{_closed_port()}/{parts['AccountName']}"
    connection = ";".join(f"{key}={value}" for key, value in parts.items())
    return RequesterTable(StorageConnection(connection_string=connection).table("requesters"))


CALLS: dict[str, Callable[[RequesterTable], object]] = {
    "slots": lambda table: table.slots("oid"),
    "take": lambda table: table.take("oid", 1, "r1", NOW),
    "renew": lambda table: table.renew("oid", Slot(1, "r1", NOW, etag='W/"x"'), 2, NOW),
    "free": lambda table: table.free("oid", Slot(1, "r1", NOW, etag='W/"x"')),
    "note": lambda table: table.note("oid", "r1", NOW),
    "page": lambda table: table.page("oid", 5, None),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_an_unreachable_requester_table_is_storage_unavailable(
    unreachable_requesters: RequesterTable, call: Callable[[RequesterTable], object]
) -> None:
    """Every requester-table call meets a refused connection as StorageUnavailable."""
    with pytest.raises(StorageUnavailable) as raised:
        call(unreachable_requesters)
    assert raised.value.info.code == "StorageUnreachable"
