"""The sweeper: level-triggered reconciliation behind the edge-triggered queue.

A queue message is an edge: lost (its host gave up, its send failed for good, the poison trigger
could not write), nothing moves its request again. As controllers such as Azure Service Operator
re-sync on a timer, the sweeper looks at the status table every few minutes
(``SWEEPER_SCHEDULE``) through the overdue index (``provisioning.due_index``), and for each
record whose time has come:

* a running record overdue by more than ``SWEEPER_OVERDUE_MINUTES``: **re-armed**. A new chain
  token is written under the record's ETag, then a chain message of that chain is sent for the
  record's current step. A late original carries the old token and is dropped as stale; had the
  original moved first, the ETag write fails and the sweeper leaves the record alone. Of the two
  only one can act.
* an ended record past ``STATUS_RETENTION_DAYS``: deleted, with its archived bodies.
* otherwise: filed again in the index at its next due time.

Every tick also drains ``<queue>-poison-poison`` (bodies the poison trigger itself failed on)
into the archive, and deletes unreadable archived bodies past the retention. One log line and
four counters per tick say what it found and did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from opentelemetry import metrics

from provisioning.due_index import DueEntry
from provisioning.errors import ErrorInfo, StorageUnavailable
from provisioning.poison import archive_row, insert_unaccepted, read_poisoned
from provisioning.ports import Drain, DueIndex, Outbox, RetainedArchive, SweptStatus
from provisioning.settings import Settings
from provisioning.status import StatusRecord, iso
from provisioning.texts import log_text

log = logging.getLogger("provisioning.sweeper")
REARMED_BY = "sweeper"
ENTRIES_PER_TICK = 500
DRAINED_PER_TICK = 128
POISON_POISON = ErrorInfo(
    "PoisonPoison",
    "the poison trigger failed on this body maxDequeueCount times (the host moved it to "
    "-poison-poison); the sweeper archived it",
)
_meter = metrics.get_meter("provisioning")
COUNTERS = {
    name: _meter.create_counter(f"sweeper_{name}", description=text)
    for name, text in (
        ("overdue", "running records found overdue"),
        ("rearmed", "overdue records re-armed"),
        ("drained", "bodies drained from -poison-poison into the archive"),
        ("deleted", "records and archived bodies deleted by the retention"),
    )
}


class Verdict(StrEnum):
    FORGET = "forget"  # no record: drop the index entry
    WAIT = "wait"  # look again at ``next_look``
    REARM = "rearm"  # overdue: re-arm, look again at ``next_look``
    EXPIRE = "expire"  # ended and past the retention: delete


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    next_look: datetime | None = None


@dataclass(frozen=True, slots=True)
class SweepCounts:
    looked: int = 0
    overdue: int = 0
    rearmed: int = 0
    drained: int = 0
    deleted: int = 0


def due_at(record: StatusRecord) -> datetime:
    """When the record's next message should have acted: its last write plus the delay it set
    (the insert of a new request is due at once)."""
    return record.updated_at + timedelta(seconds=record.next_delay or 0)


def judge(record: StatusRecord | None, now: datetime, settings: Settings) -> Judgement:
    """What the sweeper does with one record whose index entry is due (pure)."""
    margin = timedelta(minutes=settings.sweeper_overdue_minutes)
    if record is None:
        return Judgement(Verdict.FORGET)
    if record.phase.terminal:
        expires = record.updated_at + timedelta(days=settings.status_retention_days)
        return Judgement(Verdict.EXPIRE) if expires <= now else Judgement(Verdict.WAIT, expires)
    overdue_at = due_at(record) + margin
    if overdue_at <= now:
        return Judgement(Verdict.REARM, now + margin)
    return Judgement(Verdict.WAIT, overdue_at)


def rearmed(record: StatusRecord, chain: str, now: datetime) -> StatusRecord:
    """The record with a new chain for the same step, due at once (pure)."""
    return replace(record, chain=chain, advanced_by=REARMED_BY, next_delay=0, updated_at=now)


@dataclass(frozen=True, slots=True)
class SweepDeps:
    settings: Settings
    status: SweptStatus
    index: DueIndex
    outbox: Outbox
    archive: RetainedArchive
    drain: Drain
    clock: Callable[[], datetime]
    new_chain: Callable[[], str]


def sweep(deps: SweepDeps) -> SweepCounts:
    """One tick: the due index entries, the ``-poison-poison`` queue, the retention."""
    now = deps.clock()
    counts = SweepCounts()
    for entry in deps.index.due(now, ENTRIES_PER_TICK):
        try:
            counts, refiled = _look(entry.request_id, deps, now, counts)
            if refiled != entry:  # filed again in the same minute: that is this very entry
                deps.index.remove(entry)
        except StorageUnavailable as error:  # this record's storage failed: the next tick
            log.warning("sweep: request %s skipped: %s", entry.request_id, error.info.message)
    counts = replace(counts, drained=_drain(deps, now))
    cutoff = now - timedelta(days=deps.settings.status_retention_days)
    counts = replace(counts, deleted=counts.deleted + deps.archive.delete_unreadable_before(cutoff))
    _report(counts, deps.settings)
    return counts


def _look(
    request_id: str, deps: SweepDeps, now: datetime, counts: SweepCounts
) -> tuple[SweepCounts, DueEntry | None]:
    """Judge one record, act, and file it again where it still needs a look (the new entry)."""
    record = deps.status.get(request_id)
    judgement = judge(record, now, deps.settings)
    counts = replace(counts, looked=counts.looked + 1)
    next_look = judgement.next_look
    if record is not None and judgement.verdict is Verdict.REARM:
        counts = replace(counts, overdue=counts.overdue + 1)
        if _rearm(record, deps, now):
            counts = replace(counts, rearmed=counts.rearmed + 1)
    elif record is not None and judgement.verdict is Verdict.EXPIRE:
        if deps.status.delete(record):
            deleted = 1 + deps.archive.delete_request(request_id)
            counts = replace(counts, deleted=counts.deleted + deleted)
        else:  # written since it was read: judge it again on a later tick
            next_look = now + timedelta(minutes=deps.settings.sweeper_overdue_minutes)
    refiled = deps.index.file(request_id, next_look) if next_look is not None else None
    return counts, refiled


def _rearm(record: StatusRecord, deps: SweepDeps, now: datetime) -> bool:
    stored = deps.status.replace(rearmed(record, deps.new_chain(), now))
    if stored is None:
        return False  # the original moved first: it is not stranded
    deps.outbox.send_chain(stored.next_message(), 0)
    log.warning(
        "request %s [%s, attempt %d/%d, requested by %s]: overdue since %s; re-armed by the "
        "sweeper",
        stored.request_id,
        stored.phase.value,
        stored.attempt,
        stored.max_attempts,
        stored.requested_by.key,
        iso(due_at(record)),
        extra={
            "request_id": stored.request_id,
            "requested_by": stored.requested_by.key,
            "phase": stored.phase.value,
            "attempt": stored.attempt,
            "outcome": "rearmed",
        },
    )
    return True


def _drain(deps: SweepDeps, now: datetime) -> int:
    queue = deps.settings.poison_poison_queue_name
    drained = 0
    for delivery, pop_receipt in deps.drain.receive(DRAINED_PER_TICK):
        reading = read_poisoned(delivery)  # decoded and validated once
        request_id = reading.request_id
        record = deps.status.get(request_id) if request_id else None
        deps.archive.put(archive_row(delivery, request_id, record, POISON_POISON, queue))
        payload = reading.request if record is None else None
        if payload is not None:  # a payload no run accepted: make the request readable
            insert_unaccepted(
                payload,
                POISON_POISON,
                delivery,
                deps.status,
                now=now,
                max_attempts=deps.settings.rg_visibility_attempts,
            )
        deps.drain.delete(delivery, pop_receipt)
        drained += 1
        log.error(
            "poison-poison message %s drained into the archive (request %s)",
            log_text(delivery.id),
            log_text(request_id or "(unreadable)"),
            extra={
                "request_id": request_id,
                "outcome": "poison_poison",
                "error_code": POISON_POISON.code,
            },
        )
    return drained


def _report(counts: SweepCounts, settings: Settings) -> None:
    for name in ("overdue", "rearmed", "drained", "deleted"):
        COUNTERS[name].add(getattr(counts, name))
    level = logging.WARNING if counts.overdue or counts.drained else logging.INFO
    log.log(
        level,
        "sweep: %d overdue, %d re-armed, %d drained from %s-poison, %d deleted (%d looked at)",
        counts.overdue,
        counts.rearmed,
        counts.drained,
        settings.poison_queue_name,
        counts.deleted,
        counts.looked,
        extra={
            "outcome": "sweep",
            "overdue": counts.overdue,
            "rearmed": counts.rearmed,
            "drained": counts.drained,
            "deleted": counts.deleted,
        },
    )
