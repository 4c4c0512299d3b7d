"""The requester table's slots over the wire (Azurite): a slot records its run, an older row
without one reads as run 1, and handing a slot to a new run is a replace under its ETag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localazure.azurite import Azurite
from provisioning.storage import RequesterTable, StorageConnection, ensure_table

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = "0a1b2c3d-0000-4000-8000-00000000a11c"


def _table(azurite: Azurite, table_name: str) -> RequesterTable:
    client = StorageConnection(connection_string=azurite.connection_string).table(table_name)
    ensure_table(client)
    return RequesterTable(client)


def test_a_slot_is_handed_to_a_new_run_only_if_unchanged(azurite: Azurite, table_name: str) -> None:
    """take records run 1; renew hands it to run 2 (new ETag, new taken_at); a renew or free
    under the old ETag changes nothing: a reclaimer that read it before cannot delete it."""
    table = _table(azurite, table_name)
    assert table.take(KEY, 0, "r1", NOW)
    assert not table.take(KEY, 0, "r2", NOW)
    (before,) = table.slots(KEY)
    assert (before.number, before.request_id, before.run, before.taken_at) == (0, "r1", 1, NOW)

    later = NOW + timedelta(hours=1)
    assert table.renew(KEY, before, 2, later)
    (after,) = table.slots(KEY)
    assert (after.request_id, after.run, after.taken_at) == ("r1", 2, later)
    assert after.etag != before.etag

    assert not table.renew(KEY, before, 3, later)  # stale ETag
    table.free(KEY, before)  # stale ETag: left alone
    assert [(s.request_id, s.run) for s in table.slots(KEY)] == [("r1", 2)]
    table.free(KEY, after)
    assert not table.slots(KEY)
    assert not table.renew(KEY, after, 3, later)  # gone


def test_a_slot_row_without_a_run_reads_as_run_1(azurite: Azurite, table_name: str) -> None:
    """Rows written before slots recorded their run still read (as run 1)."""
    client = StorageConnection(connection_string=azurite.connection_string).table(table_name)
    ensure_table(client)
    client.create_entity(
        {
            "PartitionKey": KEY,
            "RowKey": "slot-000",
            "request_id": "r1",
            "taken_at": "2026-12-01T12:00:00Z",
        }
    )
    (slot,) = RequesterTable(client).slots(KEY)
    assert (slot.request_id, slot.run, slot.taken_at) == ("r1", 1, NOW)


def test_take_records_the_run(azurite: Azurite, table_name: str) -> None:
    """A slot taken for run 2 (its earlier run's slot was reclaimed already) reads run 2."""
    table = _table(azurite, table_name)
    assert table.take(KEY, 1, "r1", NOW, run=2)
    assert [(s.number, s.run) for s in table.slots(KEY)] == [(1, 2)]
