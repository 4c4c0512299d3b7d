"""The poison-queue trigger: archive every message, and end the request it belongs to.

Messages arrive here from the function itself (terminal failures, rejected messages) and from
the host (messages dequeued more than ``maxDequeueCount`` times, which is what repeated crashes
and bugs produce). Every message is archived; only the live run's current baton (its chain,
run and step, the step not done) ends that run, and a payload ends a request only if no run
ever accepted it. Anything else is archived as ``Stale`` and leaves the record alone: a late
copy must never mark failed a run that AKS is carrying on with.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from provisioning.contract import (
    ClusterRequest,
    parse_accepted,
    readable_request_id,
)
from provisioning.deferral import defer_or_raise
from provisioning.errors import ErrorInfo, InvalidRequest, StorageUnavailable
from provisioning.identity import QUEUE_KEY
from provisioning.messages import ChainMessage, Delivery, parse_chain_message
from provisioning.ports import Lease, PoisonArchive, StatusStore
from provisioning.status import Phase, StatusRecord, iso, utc_now, wire_fingerprint
from provisioning.texts import LOG_MESSAGE_LIMIT, log_text

log = logging.getLogger("provisioning.poison")
UNREADABLE = "_unreadable"
# Table properties hold at most 64 KiB; a queue message's text can reach that, so it is split.
WIRE_CHUNK = 60_000
# The one error of a message the host gave up on (and of the run it ends).
# What every other poisoned message is archived with: it leaves the record alone.
STALE = ErrorInfo(
    "Stale",
    "not the current baton of a live run (its step was done, or it is another run's or "
    "chain's message, or a payload a run already accepted); archived, the request left alone",
)
HOST_GAVE_UP = ErrorInfo(
    "PoisonMessage",
    "the Functions host gave up on the message after maxDequeueCount deliveries (the function "
    "crashed or raised each time)",
)


@dataclass(frozen=True, slots=True)
class Reading:
    """What one poisoned message says, worked out once."""

    request_id: str | None = None
    chain: ChainMessage | None = None
    request: ClusterRequest | None = None
    problem: ErrorInfo | None = None  # why it is no valid request (None for a chain message)


def handle_poison(
    delivery: Delivery,
    status: StatusStore,
    archive: PoisonArchive,
    queue_name: str,
    lease: Lease | None = None,
    retry_seconds: int = 60,
    *,
    max_attempts: int,
) -> None:
    """Archive one poisoned body and end the run it is the current baton of; a storage failure
    defers it (as for a step), so an outage does not send it on to ``-poison-poison``.
    ``max_attempts`` is the settings' ``rg_visibility_attempts``, as on an accepted record."""
    try:
        _handle_poison(delivery, status, archive, queue_name, max_attempts)
    except StorageUnavailable as error:
        defer_or_raise(delivery, error, lease, retry_seconds)


def _handle_poison(
    delivery: Delivery,
    status: StatusStore,
    archive: PoisonArchive,
    queue_name: str,
    max_attempts: int,
) -> None:
    reading = read_poisoned(delivery)
    request_id = reading.request_id
    record = status.get(request_id) if request_id else None
    reason = _reason(reading, record, delivery.wire)
    archive.put(archive_row(delivery, request_id, record, reason, queue_name))
    if record is not None and is_current_baton(reading.chain, record):
        _mark_failed(record, reading, delivery, status)
    elif record is None and reading.request is not None:
        # A payload no run ever accepted (the host poisoned it before the function recorded
        # it): the only payload that may end a request, by making it readable as failed.
        insert_unaccepted(
            reading.request,
            HOST_GAVE_UP,
            delivery,
            status,
            now=utc_now(),
            max_attempts=max_attempts,
        )
    # The requester is known once the request has a record; a body without one came unverified.
    requester = record.requested_by.key if record is not None else QUEUE_KEY
    log.error(
        "poison message %s archived (request %s, requested by %s): %s: %s",
        log_text(delivery.id),
        log_text(request_id or "(unreadable)"),
        requester,
        log_text(reason.code),
        log_text(reason.message, LOG_MESSAGE_LIMIT),
        extra={
            "request_id": request_id,
            "requested_by": requester,
            "outcome": "poisoned",
            "error_code": reason.code,
        },
    )


def archive_row(
    delivery: Delivery,
    request_id: str | None,
    record: StatusRecord | None,
    reason: ErrorInfo,
    queue_name: str,
) -> dict[str, Any]:
    """The archive entity of one body: keyed by request and run, so a redelivery is one row."""
    return {
        "PartitionKey": request_id or UNREADABLE,
        "RowKey": f"{record.run if record else 0:04d}-{wire_fingerprint(delivery.wire)[:32]}",
        **wire_properties(delivery.wire),
        "reason": reason.code + ": " + reason.message[:4000],
        "queue": queue_name,
        "message_id": delivery.id,
        "dequeue_count": delivery.dequeue_count,
        "archived_at": iso(utc_now()),
    }


def wire_properties(wire: bytes) -> dict[str, Any]:
    parts = [wire[i : i + WIRE_CHUNK] for i in range(0, len(wire), WIRE_CHUNK)] or [b""]
    return {"wire" if i == 0 else f"wire_{i}": part for i, part in enumerate(parts)}


def wire_of(row: dict[str, Any]) -> bytes:
    """The message text of an archive row, its chunks joined again."""
    parts = [row.get("wire", b"")]
    index = 1
    while f"wire_{index}" in row:
        parts.append(row[f"wire_{index}"])
        index += 1
    return b"".join(bytes(part) for part in parts)


def read_poisoned(delivery: Delivery) -> Reading:
    """What a poisoned message says: the request it names, its chain or valid payload."""
    try:
        body = delivery.body
    except InvalidRequest:
        return Reading(problem=ErrorInfo("InvalidRequest", "the message is not base64 text"))
    chain = _chain(body)
    if chain is not None:
        return Reading(request_id=chain.request_id, chain=chain)
    try:
        request = parse_accepted(body)
    except InvalidRequest as exc:
        return Reading(request_id=readable_request_id(body), problem=exc.info)
    return Reading(request_id=request.request_id, request=request)


def _chain(body: bytes) -> ChainMessage | None:
    try:
        return parse_chain_message(json.loads(body))
    except (ValueError, RecursionError, InvalidRequest):
        return None


def _reason(reading: Reading, record: StatusRecord | None, wire: bytes) -> ErrorInfo:
    """Why this message ended here, as the operator will read it in the archive."""
    if record is None:
        if reading.problem is not None:
            return reading.problem
        # A payload no run ever accepted: the host gave up on it before it was recorded.
        return HOST_GAVE_UP if reading.request is not None else STALE
    if record.error is not None and record.fingerprint == wire_fingerprint(wire):
        return record.error  # the failed record the function wrote when it rejected this text
    if reading.problem is not None:
        return reading.problem
    if reading.request is not None and record.fingerprint != reading.request.fingerprint():
        return ErrorInfo(
            "RequestIdConflict",
            "another payload holds this request_id; the live request was left untouched",
        )
    if record.phase is Phase.FAILED and record.error is not None and _of_run(reading, record):
        return record.error  # the message whose step ended the run: the function parked it here
    return HOST_GAVE_UP if is_current_baton(reading.chain, record) else STALE


def is_current_baton(chain: ChainMessage | None, record: StatusRecord) -> bool:
    """The one message that may end a run: its chain, run and step are the record's current
    ones and that step has not been done (a done step moved the record on). A payload, a
    done step's message, another run's or another chain's never ends it."""
    if chain is None or record.phase.terminal:
        return False
    return (chain.chain, chain.run, chain.step) == (record.chain, record.run, record.step)


def _of_run(reading: Reading, record: StatusRecord) -> bool:
    """A message of the record's run (its chain), or its accepted payload: for the reason."""
    if reading.chain is not None:
        return (reading.chain.chain, reading.chain.run) == (record.chain, record.run)
    return reading.request is not None and reading.request.fingerprint() == record.fingerprint


def _mark_failed(
    record: StatusRecord, reading: Reading, delivery: Delivery, status: StatusStore
) -> None:
    for _ in range(3):  # lost ETag races: re-read, and stop once it is no longer the baton
        changed = replace(
            record,
            phase=Phase.FAILED,
            error=HOST_GAVE_UP,
            step=record.step + 1,
            advanced_by=delivery.id,
            next_delay=None,
            updated_at=utc_now(),
        )
        if status.replace(changed) is not None:
            return
        fresh = status.get(record.request_id)
        if fresh is None or not is_current_baton(reading.chain, fresh):
            return
        record = fresh
    raise RuntimeError(f"could not mark request {record.request_id} failed after 3 tries")


def insert_unaccepted(
    request: ClusterRequest,
    reason: ErrorInfo,
    delivery: Delivery,
    status: StatusStore,
    *,
    now: datetime,
    max_attempts: int,
) -> None:
    """Record a payload no run ever accepted as failed with ``reason`` (the poison trigger's and
    the sweeper's drain's one way to do it), so the request reads as a rejected one does."""
    status.insert(
        StatusRecord.rejected(
            request,
            reason,
            wire=delivery.wire,
            advanced_by=delivery.id,
            now=now,
            max_attempts=max_attempts,
        )
    )
