"""The real StatusStore against Azurite: its ETag conditions are what makes forked chains safe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from azure.data.tables import TableClient

from localazure.azurite import Azurite
from provisioning.status import Phase, StatusRecord
from provisioning.storage import StatusStore
from tests.unit.factories import T0, make_request


@pytest.fixture
def store(azurite: Azurite, table_name: str) -> Iterator[StatusStore]:
    table = TableClient.from_connection_string(azurite.connection_string, table_name)
    table.create_table()
    try:
        yield StatusStore(table)
    finally:
        table.delete_table()


def _record() -> StatusRecord:
    return StatusRecord.accepted(make_request(), advanced_by="m-1", now=T0, chain="c" * 32)


def test_insert_of_an_existing_record_conflicts(store: StatusStore) -> None:
    """The second insert of a request id returns None and leaves the first record."""
    first = store.insert(_record())
    assert first is not None and first.etag
    assert store.insert(replace(_record(), advanced_by="m-2")) is None
    assert store.get(first.request_id) == first


def test_replace_refuses_a_stale_etag(store: StatusStore) -> None:
    """Two writers from the same read: the first replace wins, the second gets None."""
    read = store.insert(_record())
    assert read is not None
    winner = store.replace(replace(read, step=1, advanced_by="m-winner"))
    assert winner is not None and winner.etag != read.etag
    loser = store.replace(replace(read, step=1, advanced_by="m-loser", phase=Phase.FAILED))
    assert loser is None
    assert store.get(read.request_id) == winner


def test_replace_of_a_missing_record_is_refused(store: StatusStore) -> None:
    """A replace never creates: without a stored record there is no ETag to match."""
    record = replace(_record(), etag="W/\"datetime'2024-01-01T00%3A00%3A00Z'\"")
    assert store.replace(record) is None
    assert store.get(record.request_id) is None
