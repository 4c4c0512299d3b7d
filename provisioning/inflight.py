"""In-flight quota per requester, counted without scanning the status table.

Each requester has a partition of its own in the requester table holding numbered slots
(``slot-000``, ``slot-001``, ...), one per live request. Taking a slot is an insert of the lowest
free number: of two concurrent takers of the same number, the table lets exactly one in, and
the other looks again. So the count can never exceed the limit, whatever runs concurrently.

A slot is released lazily. When a requester's partition is full, each slot's request is looked
up (a point read of its status record, by request id); the slots of requests that reached
``succeeded`` or ``failed`` (or whose record never appeared within ``GRACE``: the app died
between taking the slot and writing the record) are deleted, each under its ETag, and the count
is taken again. So a crash anywhere never leaks a slot for good, and the terminal write of a
request needs no extra call. Cost per accepted request: one partition query (at most ``limit``
rows) and one insert; when the partition is full, plus one point read per slot and one delete
per finished one (each slot is reclaimed once: amortised one read and one delete per request).

A slot records the run it was taken for. A re-drive (run ``n + 1`` of a failed request) whose
run-``n`` slot is still there (not yet reclaimed) hands that slot to the new run, a replace under
its ETag, instead of inserting: one query and one replace, never two slots for one request. The
slot then counts as live while the record still says run ``n`` (the re-drive has not written
its run yet), for ``GRACE`` as for an absent record; so a concurrent taker that sees the record
``failed`` cannot reclaim the re-drive's slot, and one that read the slot before the hand-over
loses its delete on the changed ETag. A slot of an earlier run than the record's is reclaimed
once the record is terminal, as any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from provisioning.ports import RequesterIndex, StatusStore
from provisioning.views import Slot

GRACE = timedelta(minutes=5)  # far longer than a POST takes between its slot and its record
_RACES = 5  # looks after losing a slot number to a concurrent taker


def take_slot(
    index: RequesterIndex,
    status: StatusStore,
    key: str,
    request_id: str,
    limit: int,
    now: datetime,
    run: int = 1,
) -> bool:
    """Hold an in-flight slot of ``key`` for run ``run`` of ``request_id``; False when all
    ``limit`` are live."""
    for _ in range(_RACES):
        slots = index.slots(key)
        held = next((slot for slot in slots if slot.request_id == request_id), None)
        if held is not None:
            if held.run >= run:
                return True  # a redelivery or retry of the same run: it holds one already
            if index.renew(key, held, run, now):
                return True  # the earlier run's slot, handed to this one
            continue  # reclaimed or changed under us: look again
        if len(slots) >= limit:
            slots = _reclaim(index, status, key, slots, now)
            if len(slots) >= limit:
                return False
        used = {slot.number for slot in slots}
        number = next(n for n in range(len(used) + 1) if n not in used)
        if index.take(key, number, request_id, now, run):
            return True
    return False  # contended beyond reason: refuse rather than overshoot


def _reclaim(
    index: RequesterIndex, status: StatusStore, key: str, slots: list[Slot], now: datetime
) -> list[Slot]:
    live: list[Slot] = []
    for slot in slots:
        if _finished(slot, status, now):
            index.free(key, slot)
        else:
            live.append(slot)
    return live


def _finished(slot: Slot, status: StatusStore, now: datetime) -> bool:
    record = status.get(slot.request_id)
    if record is None or record.run < slot.run:  # its run's record is not written yet
        return now - slot.taken_at > GRACE
    return record.phase.terminal
