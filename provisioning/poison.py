"""The poison-queue trigger: archive every body, and end the request it belongs to.

Bodies arrive here from the function itself (terminal failures, rejected messages) and from the
host (undecodable messages, and messages dequeued more than ``maxDequeueCount`` times, which is
what repeated crashes produce). Only a body of the request's live run may end that run.
"""

from __future__ import annotations

import base64
import json
import logging
from hashlib import sha256

from provisioning.contract import parse_request, readable_request_id
from provisioning.errors import ErrorInfo, InvalidRequest
from provisioning.messages import ChainMessage, parse_chain_message
from provisioning.reconcile import Delivery
from provisioning.status import Phase, StatusRecord, iso, utc_now
from provisioning.storage import PoisonArchive, StatusStore

log = logging.getLogger("provisioning.poison")
UNREADABLE = "_unreadable"
HOST_GAVE_UP = (
    "the Functions host gave up on the message: it could not be decoded, or it was dequeued "
    "more than maxDequeueCount times (the function kept crashing or raising)"
)


def handle_poison(
    delivery: Delivery, status: StatusStore, archive: PoisonArchive, queue_name: str
) -> None:
    request_id = _request_id(delivery.body)
    record = status.get(request_id) if request_id else None
    live = record is not None and not record.phase.terminal and _belongs(delivery.body, record)
    if record is not None and record.phase is Phase.FAILED and record.error is not None:
        reason = f"{record.error.code}: {record.error.message}"
    else:
        reason = f"PoisonMessage: {HOST_GAVE_UP}"
    archive.put(
        {
            "PartitionKey": request_id or UNREADABLE,
            "RowKey": f"{record.run if record else 0:04d}-{sha256(delivery.body).hexdigest()[:32]}",
            "body_base64": base64.b64encode(delivery.body).decode("ascii"),
            "reason": reason[:4000],
            "queue": queue_name,
            "message_id": delivery.id,
            "dequeue_count": delivery.dequeue_count,
            "archived_at": iso(utc_now()),
        }
    )
    if live and record is not None:
        _mark_failed(record, delivery, status)
    elif record is None and request_id and _valid_request(delivery.body):
        # A request the host poisoned before the function ever recorded it: make it readable.
        _insert_failed(request_id, delivery, status)
    log.error(
        "poison message %s archived (request %s): %s",
        delivery.id,
        request_id or "(unreadable)",
        reason,
        extra={"request_id": request_id, "outcome": "poisoned", "error_code": "PoisonMessage"},
    )


def _request_id(body: bytes) -> str | None:
    chain = _chain(body)
    return chain.request_id if chain else readable_request_id(body)


def _chain(body: bytes) -> ChainMessage | None:
    try:
        return parse_chain_message(json.loads(body))
    except (ValueError, InvalidRequest):
        return None


def _belongs(body: bytes, record: StatusRecord) -> bool:
    """Its accepted payload, or a message of its current chain: never a stale or foreign body."""
    chain = _chain(body)
    if chain is not None:
        return chain.chain == record.chain and chain.run == record.run
    try:
        return parse_request(body, max_node_count=10**6).fingerprint() == record.fingerprint
    except InvalidRequest:
        return False


def _valid_request(body: bytes) -> bool:
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


def _insert_failed(request_id: str, delivery: Delivery, status: StatusStore) -> None:
    request = parse_request(delivery.body, max_node_count=10**6)
    now = utc_now()
    status.insert(
        StatusRecord(
            request_id=request_id,
            phase=Phase.FAILED,
            subscription_id=request.subscription_id,
            resource_group=request.resource_group,
            cluster_name=request.cluster.name,
            location=request.location,
            fingerprint=request.fingerprint(),
            request_json=json.dumps(request.to_dict(), separators=(",", ":")),
            created_at=now,
            updated_at=now,
            advanced_by=delivery.id,
            error=_poison_error(),
        )
    )
