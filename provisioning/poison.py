"""The poison-queue trigger: archive every message, and end the request it belongs to.

Messages arrive here from the function itself (terminal failures, rejected messages) and from
the host (messages dequeued more than ``maxDequeueCount`` times, which is what repeated crashes
and bugs produce). Only a message of the request's live run may end that run.
"""

from __future__ import annotations

import json
import logging
from hashlib import sha256
from typing import Any

from provisioning.contract import parse_request, readable_request_id
from provisioning.errors import ErrorInfo, InvalidRequest
from provisioning.messages import ChainMessage, parse_chain_message
from provisioning.reconcile import Delivery
from provisioning.status import Phase, StatusRecord, iso, utc_now
from provisioning.storage import PoisonArchive, StatusStore

log = logging.getLogger("provisioning.poison")
UNREADABLE = "_unreadable"
# Table properties hold at most 64 KiB; a queue message's text can reach that, so it is split.
WIRE_CHUNK = 60_000
HOST_GAVE_UP = (
    "the Functions host gave up on the message after maxDequeueCount deliveries (the function "
    "crashed or raised each time)"
)


def handle_poison(
    delivery: Delivery, status: StatusStore, archive: PoisonArchive, queue_name: str
) -> None:
    body = _body(delivery)
    request_id = _request_id(body)
    record = status.get(request_id) if request_id else None
    reason = _reason(body, record, delivery.wire)
    archive.put(
        {
            "PartitionKey": request_id or UNREADABLE,
            "RowKey": f"{record.run if record else 0:04d}-{sha256(delivery.wire).hexdigest()[:32]}",
            **wire_properties(delivery.wire),
            "reason": reason.code + ": " + reason.message[:4000],
            "queue": queue_name,
            "message_id": delivery.id,
            "dequeue_count": delivery.dequeue_count,
            "archived_at": iso(utc_now()),
        }
    )
    if record is not None and not record.phase.terminal and _belongs(body, record):
        _mark_failed(record, delivery, status)
    elif record is None and request_id and _valid_request(body):
        # A request the host poisoned before the function ever recorded it: make it readable.
        _insert_failed(body, delivery, status)
    log.error(
        "poison message %s archived (request %s): %s: %s",
        delivery.id,
        request_id or "(unreadable)",
        reason.code,
        reason.message,
        extra={"request_id": request_id, "outcome": "poisoned", "error_code": reason.code},
    )


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


def _body(delivery: Delivery) -> bytes | None:
    try:
        return delivery.body
    except InvalidRequest:
        return None


def _chain(body: bytes | None) -> ChainMessage | None:
    if body is None:
        return None
    try:
        return parse_chain_message(json.loads(body))
    except (ValueError, RecursionError, InvalidRequest):
        return None


def _request_id(body: bytes | None) -> str | None:
    chain = _chain(body)
    if chain is not None:
        return chain.request_id
    return readable_request_id(body) if body is not None else None


def _reason(body: bytes | None, record: StatusRecord | None, wire: bytes) -> ErrorInfo:
    """Why this message ended here, as the operator will read it in the archive."""
    if body is None:
        return ErrorInfo("InvalidRequest", "the message is not base64 text")
    rejected = record is not None and record.fingerprint == sha256(wire).hexdigest()
    if rejected and record is not None and record.error is not None:
        return record.error  # the failed record the function wrote when it rejected this text
    if _chain(body) is None:
        try:
            request = parse_request(body, max_node_count=10**6)
        except InvalidRequest as exc:
            return exc.info
        if record is not None and record.fingerprint != request.fingerprint():
            return ErrorInfo(
                "RequestIdConflict",
                "another payload holds this request_id; the live request was left untouched",
            )
    failed = record is not None and record.phase is Phase.FAILED and record.error is not None
    if failed and record is not None and record.error is not None and _belongs(body, record):
        return record.error
    return ErrorInfo("PoisonMessage", HOST_GAVE_UP)


def _belongs(body: bytes | None, record: StatusRecord) -> bool:
    """Its accepted payload, or a message of its current chain: never a stale or foreign body."""
    chain = _chain(body)
    if chain is not None:
        return chain.chain == record.chain and chain.run == record.run
    if body is None:
        return False
    try:
        return parse_request(body, max_node_count=10**6).fingerprint() == record.fingerprint
    except InvalidRequest:
        return False


def _valid_request(body: bytes | None) -> bool:
    if body is None:
        return False
    try:
        parse_request(body, max_node_count=10**6)
    except InvalidRequest:
        return False
    return True


def _poison_error() -> ErrorInfo:
    return ErrorInfo("PoisonMessage", HOST_GAVE_UP)


def _mark_failed(record: StatusRecord, delivery: Delivery, status: StatusStore) -> None:
    for _ in range(3):  # lost ETag races: re-read, and stop once someone else ended the run
        changed = record.with_changes(
            phase=Phase.FAILED,
            error=_poison_error(),
            step=record.step + 1,
            advanced_by=delivery.id,
            next_delay=None,
            updated_at=utc_now(),
        )
        if status.replace(changed) is not None:
            return
        fresh = status.get(record.request_id)
        if fresh is None or fresh.phase.terminal or fresh.chain != record.chain:
            return
        record = fresh
    raise RuntimeError(f"could not mark request {record.request_id} failed after 3 tries")


def _insert_failed(body: bytes | None, delivery: Delivery, status: StatusStore) -> None:
    request = parse_request(body or b"", max_node_count=10**6)
    record = StatusRecord.accepted(request, advanced_by=delivery.id, now=utc_now())
    status.insert(record.with_changes(phase=Phase.FAILED, error=_poison_error()))
