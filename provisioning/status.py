"""The status record: the authoritative state of one request, one table entity per request.

Queue messages only wake the function up; what a message may do is decided by comparing it with
this record. ``chain`` and ``step`` say which message may act next, ``advanced_by`` which queue
message made the last write (so a redelivery of that same message can be recognised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from hashlib import sha256
from typing import Any

from provisioning.contract import ClusterRequest
from provisioning.errors import ErrorInfo
from provisioning.identity import QUEUE, Requester
from provisioning.messages import ChainMessage
from provisioning.views import ClusterRef

ROW_KEY = "status"


class Phase(StrEnum):
    ENSURING_RESOURCE_GROUP = "ensuring_resource_group"
    CREATING_CLUSTER = "creating_cluster"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wire_fingerprint(wire: bytes) -> str:
    """What identifies a message that is no valid request: SHA-256 (hex) of its queued text."""
    return sha256(wire).hexdigest()


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class StatusRecord:
    request_id: str
    phase: Phase
    subscription_id: str
    resource_group: str
    cluster_name: str
    location: str
    fingerprint: str
    request_json: str
    created_at: datetime
    updated_at: datetime
    run: int = 1
    chain: str = ""
    step: int = 0
    advanced_by: str = ""
    next_delay: int | None = None
    attempt: int = 1
    max_attempts: int = 12
    transient_failures: int = 0
    aks_rg_not_found: int = 0
    rg_created: bool = False
    registration_requested: bool = False
    deleting_since: datetime | None = None
    watch_started: datetime | None = None
    operation_url: str | None = None
    resource_group_id: str | None = None
    cluster_id: str | None = None
    error: ErrorInfo | None = None
    requested_by: Requester = QUEUE
    etag: str | None = None

    @classmethod
    def accepted(
        cls,
        request: ClusterRequest,
        *,
        advanced_by: str,
        now: datetime,
        run: int = 1,
        chain: str = "",
        max_attempts: int = 12,
        requested_by: Requester = QUEUE,
    ) -> StatusRecord:
        """The first record of a run of ``request``: checking its group, attempt 1."""
        return cls(
            request_id=request.request_id,
            phase=Phase.ENSURING_RESOURCE_GROUP,
            subscription_id=request.subscription_id,
            resource_group=request.resource_group,
            cluster_name=request.cluster.name,
            location=request.location,
            fingerprint=request.fingerprint(),
            # Not ASCII-escaped: an emoji is 2 UTF-16 units as itself, 12 as "\ud83d\ude00",
            # and Table storage counts a string's UTF-16 bytes against its 64 KiB.
            request_json=json.dumps(request.to_dict(), separators=(",", ":"), ensure_ascii=False),
            created_at=now,
            updated_at=now,
            run=run,
            chain=chain,
            advanced_by=advanced_by,
            max_attempts=max_attempts,
            requested_by=requested_by,
        )

    @property
    def admitted(self) -> bool:
        """Whether a run was ever started for this request (it was admitted): every run has a
        chain token, and a record written on refusal (``rejected``) has none."""
        return bool(self.chain)

    @property
    def cluster_ref(self) -> ClusterRef:
        return ClusterRef(self.subscription_id, self.resource_group, self.cluster_name)

    @classmethod
    def rejected(
        cls,
        subject: ClusterRequest | str,
        error: ErrorInfo,
        *,
        wire: bytes,
        advanced_by: str,
        now: datetime,
        max_attempts: int,
    ) -> StatusRecord:
        """A request that failed on arrival: the one builder of that record.

        A valid ``ClusterRequest`` keeps its accepted payload and fingerprint, so that sending
        it again once allowed is a re-drive, not a RequestIdConflict. A bare request id (the
        message was unreadable as a request) keeps the fingerprint of the text it came as.
        """
        if isinstance(subject, ClusterRequest):
            accepted = cls.accepted(
                subject, advanced_by=advanced_by, now=now, max_attempts=max_attempts
            )
            return replace(accepted, phase=Phase.FAILED, error=error)
        return cls(
            request_id=subject,
            phase=Phase.FAILED,
            subscription_id="",
            resource_group="",
            cluster_name="",
            location="",
            fingerprint=wire_fingerprint(wire),
            request_json="",
            created_at=now,
            updated_at=now,
            advanced_by=advanced_by,
            max_attempts=max_attempts,
            error=error,
        )

    def next_message(self) -> ChainMessage:
        """The chain message that may perform this record's current step."""
        return ChainMessage(self.request_id, self.run, self.chain, self.step, self.attempt)

    def to_entity(self) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": self.request_id, "RowKey": ROW_KEY}
        for name in self.__dataclass_fields__:
            if name in ("request_id", "etag"):
                continue
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = iso(value)
            elif isinstance(value, Phase):
                value = value.value
            elif isinstance(value, ErrorInfo | Requester):
                value = json.dumps(value.to_dict(), ensure_ascii=False)
            if value is not None:
                entity[name] = value
        return entity

    @classmethod
    def from_entity(cls, entity: dict[str, Any], etag: str | None) -> StatusRecord:
        fields: dict[str, Any] = {"request_id": entity["PartitionKey"], "etag": etag}
        for name in cls.__dataclass_fields__:
            if name in fields or name not in entity:
                continue
            fields[name] = entity[name]
        fields["phase"] = Phase(fields["phase"])
        for name in ("created_at", "updated_at", "deleting_since", "watch_started"):
            fields[name] = _parse_time(fields.get(name))
        if fields.get("error"):
            fields["error"] = ErrorInfo.from_dict(json.loads(fields["error"]))
        if fields.get("requested_by"):
            fields["requested_by"] = Requester.from_dict(json.loads(fields["requested_by"]))
        for name in ("run", "step", "attempt", "max_attempts", "transient_failures"):
            if name in fields:
                fields[name] = int(fields[name])
        return cls(**fields)

    def to_api(self) -> dict[str, Any]:
        """What the status endpoint answers: stable field names the SPA depends on."""
        return {
            "request_id": self.request_id,
            "phase": self.phase.value,
            "attempt": self.attempt,
            "max_attempts": self.max_attempts,
            "resource_group": self.resource_group or None,
            "cluster_name": self.cluster_name or None,
            "updated_at": iso(self.updated_at),
            "error": None if self.error is None else self.error.to_dict(),
            "run": self.run,
            "resource_group_id": self.resource_group_id,
            "cluster_id": self.cluster_id,
            "requested_by": self.requested_by.to_dict(),
            "created_at": iso(self.created_at),
        }
