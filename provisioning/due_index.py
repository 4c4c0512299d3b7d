"""The overdue index: where the sweeper finds records to look at without scanning the table.

An index entry says "look at request X at time T". It lives in the status table itself, in a
partition per minute of T: ``PartitionKey = "~due-YYYYMMDDTHHMM"``, ``RowKey = request_id``.
``~`` sorts after every request id (a UUID), so the entries form one key range at the end of
the table, and the sweeper reads only the part of it that is due:
``PartitionKey ge '~due-' and PartitionKey le '~due-<this minute>'``. Entries it has dealt with
are moved to their next time or deleted, so that range only ever holds what is due now.

The index is lazy. A record gets one entry when it is inserted (at its creation plus the overdue
margin); steps never touch the index. When the sweeper reaches an entry it reads the record and
files the entry again at the record's own due time plus the margin (still running), at the end
of its retention (ended), or deletes it (record gone). A request that ends within the margin
therefore costs one index write on the hot path and two sweeper visits in its lifetime.

This module is the key scheme (pure); ``storage.TableDueIndex`` reads and writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

PREFIX = "~due-"


@dataclass(frozen=True, slots=True)
class DueEntry:
    """One index entry: the request to look at, and the partition (minute) it is filed under."""

    request_id: str
    slot: str


def slot_of(moment: datetime) -> str:
    """The partition of entries due in ``moment``'s minute (UTC)."""
    return PREFIX + moment.astimezone(UTC).strftime("%Y%m%dT%H%M")


def due_filter(now: datetime) -> str:
    """The table query for every entry due by ``now``: a key range, never a table scan."""
    return f"PartitionKey ge '{PREFIX}' and PartitionKey le '{slot_of(now)}'"
