"""Scripts' side of the contract: submit a request (validated first) and re-drive failed ones."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from provisioning.contract import parse_request
from provisioning.errors import InvalidRequest
from provisioning.front_door import ROUTE
from provisioning.messages import decode_wire
from provisioning.poison import wire_of
from provisioning.settings import Settings
from provisioning.status import Phase
from provisioning.storage import PoisonArchive, StatusStore, StorageConnection


def submit(
    request: Mapping[str, Any], *, env: Mapping[str, str], settings: Settings | None = None
) -> str:
    """Validate ``request`` as the function will, then enqueue it the way the SPA does.

    Returns the request id. Raises ``InvalidRequest`` (naming every bad field) before sending.
    """
    settings = settings or Settings.from_env(env)
    # Not ASCII-escaped: the contract counts the UTF-8 bytes, and escaping would inflate them.
    body = json.dumps(dict(request), separators=(",", ":"), ensure_ascii=False)
    parsed = parse_request(body, max_node_count=settings.max_node_count)
    queue = StorageConnection.from_env(env).queue(settings.queue_name)
    queue.send_message(body)
    return parsed.request_id


def redrive(request_id: str, *, env: Mapping[str, str], settings: Settings | None = None) -> str:
    """Send a failed request's accepted payload again, for a new run with fresh budgets.

    Works from the status record (the accepted payload) or, for a request that was never
    accepted, from its archived poison body. Returns what was done, for the operator: the
    message was sent; whether it runs is the worker's decision (a requester's full in-flight
    quota refuses it, and the status record then stays as it was), so the answer says where
    to watch.
    """
    settings = settings or Settings.from_env(env)
    storage = StorageConnection.from_env(env)
    status = StatusStore(storage.table(settings.status_table)).get(request_id)
    if status is not None and not status.phase.terminal:
        return f"request {request_id} is still {status.phase.value}; nothing re-driven"
    if status is not None and status.phase is Phase.SUCCEEDED:
        return f"request {request_id} succeeded; nothing re-driven"
    body = status.request_json if status is not None and status.request_json else None
    if body is None:
        body = _archived_payload(
            PoisonArchive(storage.table(settings.poison_archive_table)), request_id
        )
    if body is None:
        return f"no accepted payload or archived request body for {request_id}"
    storage.queue(settings.queue_name).send_message(body)
    return f"request {request_id} sent for re-drive; watch GET {ROUTE}/{request_id}"


def _archived_payload(archive: PoisonArchive, request_id: str) -> str | None:
    """The newest archived message that is the SPA's request itself (not a chain message)."""
    rows = sorted(archive.rows(request_id), key=lambda r: str(r.get("archived_at", "")))
    for row in reversed(rows):
        try:
            body = decode_wire(wire_of(row))
            document = json.loads(body)
        except (InvalidRequest, ValueError):
            continue
        if isinstance(document, dict) and "chain" not in document:
            return body.decode("utf-8")
    return None
