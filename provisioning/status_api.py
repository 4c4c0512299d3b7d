"""The SPA's status endpoint, as a pure mapping from a request id to an HTTP answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

from provisioning.contract import canonical_uuid
from provisioning.ports import StatusReader


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: str


def _error(status_code: int, code: str, message: str) -> Answer:
    return Answer(status_code, json.dumps({"error": {"code": code, "message": message}}))


def status_answer(raw_id: str, store: StatusReader) -> Answer:
    request_id = canonical_uuid(raw_id)
    if request_id is None:
        return _error(400, "InvalidRequestId", "request_id must be a UUID")
    record = store.get(request_id)
    if record is None:
        # Says nothing about whether the id exists elsewhere: only that it is not known here.
        return _error(404, "RequestNotFound", f"no provisioning request {request_id}")
    return Answer(200, json.dumps(record.to_api()))
