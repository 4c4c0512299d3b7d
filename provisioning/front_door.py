"""The HTTP front door (Asynchronous Request-Reply), as handlers over plain data and Protocols.

``POST /api/provisioning`` checks the bearer token, the request (the queue contract's own
validator), the caller's rule and in-flight quota; then it writes the status record and wakes
the queue-triggered worker with a chain message for step 0, exactly as a re-enqueued step
would. So the worker runs unchanged, and a queue sender cannot forge a verified requester: the
chain token it would need lives only in the status record. Nothing of a refused request is
written or queued. ``GET`` answers only the caller's own requests (every request with
``Provisioning.ReadAll``); anyone else's answers 404, exactly like an unknown id.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from provisioning.admission import ALL_KEY, TooManyRequestsInFlight, admit
from provisioning.contract import ClusterRequest, canonical_uuid, parse_request
from provisioning.errors import InvalidRequest
from provisioning.identity import ROLE_READ_ALL, ROLE_REQUEST, Caller, KeysUnavailable, Unauthorized
from provisioning.messages import ChainMessage, new_chain_token
from provisioning.policy import limits_for_roles
from provisioning.ports import Outbox, RequesterIndex, StatusStore
from provisioning.settings import Settings
from provisioning.status import StatusRecord

log = logging.getLogger("provisioning")

ROUTE = "/api/provisioning"
RETRY_AFTER_SECONDS = 5
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Authenticator(Protocol):
    def validate(self, authorization: str | None) -> Caller: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **more: Any
) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message, **more}}, headers or {})


NOT_CONFIGURED = _error(
    503,
    "AuthenticationNotConfigured",
    "ENTRA_TENANT_ID is not set, so no caller can be verified: the HTTP routes are off (the "
    "provisioning queue works as before)",
)


class _Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


@dataclass(frozen=True, slots=True)
class FrontDoor:
    settings: Settings
    authenticator: Authenticator
    status: StatusStore
    requesters: RequesterIndex
    outbox: Outbox
    clock: Callable[[], datetime]

    # -- the three routes --------------------------------------------------------------------

    def submit(self, authorization: str | None, body: bytes) -> Answer:
        try:
            caller = self._caller(authorization, ROLE_REQUEST)
            request = _parse(body, self.settings)
            return self._accept(caller, request)
        except _Refused as refused:
            return refused.answer

    def get(self, authorization: str | None, raw_id: str) -> Answer:
        try:
            caller = self._caller(authorization, None)
        except _Refused as refused:
            return refused.answer
        request_id = canonical_uuid(raw_id)
        if request_id is None:
            return _error(400, "InvalidRequestId", "request_id must be a UUID (8-4-4-4-12)")
        record = self.status.get(request_id)
        if record is None or not caller.may_read(record.requested_by):
            # The same answer for "unknown" and "someone else's": never reveal that it exists.
            return _error(404, "RequestNotFound", f"no provisioning request {request_id}")
        return _status_answer(200, record)

    def list(self, authorization: str | None, params: Mapping[str, str]) -> Answer:
        try:
            caller = self._caller(authorization, None)
            everyone = params.get("all", "").lower() == "true"
            if everyone and not caller.reads_all:
                raise _Refused(_forbidden(ROLE_READ_ALL, "?all=true"))
            size = _page_size(params.get("page_size"))
        except _Refused as refused:
            return refused.answer
        key = ALL_KEY if everyone else caller.requester.key
        try:
            page = self.requesters.page(key, size, params.get("continuation") or None)
        except ValueError as exc:
            return _error(400, "InvalidContinuation", str(exc))
        items = []
        for request_id in page.request_ids:
            record = self.status.get(request_id)
            if record is not None and (everyone or caller.may_read(record.requested_by)):
                items.append(record.to_api())
        return Answer(200, {"items": items, "continuation": page.continuation})

    # -- steps -------------------------------------------------------------------------------

    def _caller(self, authorization: str | None, role: str | None) -> Caller:
        try:
            caller = self.authenticator.validate(authorization)
        except Unauthorized as exc:
            log.warning("refused a call to %s: 401 %s", ROUTE, exc.reason)
            description = exc.reason.replace('"', "'")
            raise _Refused(
                _error(
                    401,
                    "InvalidToken",
                    exc.reason,
                    {
                        "WWW-Authenticate": f'Bearer error="invalid_token", '
                        f'error_description="{description}"'
                    },
                )
            ) from None
        except KeysUnavailable as exc:
            log.error("cannot verify tokens: %s", exc)
            raise _Refused(
                _error(
                    503,
                    "SigningKeysUnavailable",
                    "the tenant's signing keys cannot be read just now; try again shortly",
                    {"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            ) from None
        needed = role or (ROLE_REQUEST if not caller.reads_all else ROLE_READ_ALL)
        if needed not in caller.roles:
            raise _Refused(_forbidden(needed, "this call"))
        return caller

    def _accept(self, caller: Caller, request: ClusterRequest) -> Answer:
        requester = caller.requester
        existing = self.status.get(request.request_id)
        if existing is not None:
            return self._again(caller, request, existing)
        now = self.clock()
        refused = admit(
            request,
            limits_for_roles(
                caller.roles, self.settings.request_policy, self.settings.global_limits
            ),
            requester.key,
            settings=self.settings,
            requesters=self.requesters,
            status=self.status,
            now=now,
        )
        if refused is not None:
            return self._refusal(
                caller,
                request,
                refused.info.code,
                refused.info.message,
                too_many=isinstance(refused, TooManyRequestsInFlight),
            )
        record = StatusRecord.accepted(
            request,
            advanced_by=f"http:{uuid.uuid4()}",
            now=now,
            chain=new_chain_token(),
            max_attempts=self.settings.rg_visibility_attempts,
            requested_by=requester,
        )
        stored = self.status.insert(record)
        if stored is None:  # a concurrent POST of the same id got there first
            raced = self.status.get(request.request_id)
            if raced is None:
                raise RuntimeError(f"status record {request.request_id} vanished after a conflict")
            return self._again(caller, request, raced)
        self._hand_off(stored)
        log.info(
            "request %s accepted through %s (requested by %s)",
            stored.request_id,
            ROUTE,
            requester.key,
            extra={
                "request_id": stored.request_id,
                "requested_by": requester.key,
                "phase": stored.phase.value,
                "outcome": "accepted",
            },
        )
        return _status_answer(202, stored)

    def _again(self, caller: Caller, request: ClusterRequest, record: StatusRecord) -> Answer:
        """The same id again: the same record for the same payload from the same requester."""
        owner, caller_is = record.requested_by, caller.requester
        same_requester = (owner.kind, owner.key) == (caller_is.kind, caller_is.key)
        if not same_requester or record.fingerprint != request.fingerprint():
            return _error(
                409,
                "RequestIdConflict",
                f"request_id {request.request_id} is already taken by another request; send "
                "a new request_id (or none, and the app makes one)",
            )
        if record.step == 0 and not record.phase.terminal:
            # The first hand-off may have died between the record and the queue: do it again
            # (a second wake-up for step 0 is dropped as stale once the first has acted).
            self._hand_off(record)
        return _status_answer(202, record)

    def _hand_off(self, record: StatusRecord) -> None:
        for key in (record.requested_by.key, ALL_KEY):
            self.requesters.note(key, record.request_id, record.created_at)
        wake = ChainMessage(record.request_id, record.run, record.chain, record.step, 1)
        self.outbox.send_chain(wake, 0)

    def _refusal(
        self, caller: Caller, request: ClusterRequest, code: str, message: str, *, too_many: bool
    ) -> Answer:
        log.warning(
            "request %s refused (requested by %s): %s: %s",
            request.request_id,
            caller.requester.key,
            code,
            message,
            extra={
                "request_id": request.request_id,
                "requested_by": caller.requester.key,
                "outcome": "refused",
                "error_code": code,
            },
        )
        if too_many:
            return _error(429, code, message, {"Retry-After": str(RETRY_AFTER_SECONDS * 6)})
        return _error(403, code, message)


def _forbidden(role: str, what: str) -> Answer:
    return _error(
        403,
        "MissingAppRole",
        f"{what} needs the app role {role}, which the token does not carry (ask an owner of "
        "the app registration to assign it)",
    )


def _parse(body: bytes, settings: Settings) -> ClusterRequest:
    """The contract's validator; a body without ``request_id`` gets a fresh one first."""
    try:
        return parse_request(
            body, max_node_count=settings.max_node_count, new_request_id=lambda: str(uuid.uuid4())
        )
    except InvalidRequest as exc:
        raise _Refused(
            _error(400, "InvalidRequest", exc.info.message, details=list(exc.info.details))
        ) from None


def _page_size(raw: str | None) -> int:
    if not raw:
        return PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise _Refused(
            _error(400, "InvalidPageSize", f"page_size must be a whole number 1-{MAX_PAGE_SIZE}")
        )
    return int(raw)


def _status_answer(status: int, record: StatusRecord) -> Answer:
    headers = {"Location": f"{ROUTE}/{record.request_id}"} if status == 202 else {}
    if not record.phase.terminal:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return Answer(status, record.to_api(), headers)
