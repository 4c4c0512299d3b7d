"""The seams between the reconcile logic and Azure: what it needs from storage and from ARM.

``storage.StatusStore``, ``storage.Outbox``, ``storage.PoisonArchive`` and ``arm.Arm`` are the
real implementations; ``tests/fakes.py`` holds honest in-memory ones. The handlers are typed
with these Protocols, so neither they nor their tests import an SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from provisioning.due_index import DueEntry
from provisioning.messages import ChainMessage, Delivery
from provisioning.status import StatusRecord
from provisioning.views import (
    ClusterRef,
    ClusterView,
    CreateStarted,
    GroupView,
    OperationView,
    Page,
    Slot,
)


class StatusReader(Protocol):
    """What the status endpoint needs: one record by request id."""

    def get(self, request_id: str) -> StatusRecord | None: ...


class StatusStore(StatusReader, Protocol):
    """Status records under ETag conditions: of two writers from the same read, one wins."""

    def insert(self, record: StatusRecord) -> StatusRecord | None:
        """The record as stored (with its ETag), or None when one for that request exists."""
        ...

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        """The record as stored, or None when ``record.etag`` is no longer the stored one."""
        ...


class Outbox(Protocol):
    """The queues the function writes to: its next chain message, and bodies it gives up on."""

    def send_chain(self, message: ChainMessage, delay_seconds: int) -> None: ...

    def send_poison(self, wire: bytes) -> None: ...


class Lease(Protocol):
    """The delivered message itself: its visibility can be pushed out through its pop receipt
    (raises StorageUnavailable when that fails)."""

    def defer(self, delivery: Delivery, seconds: int) -> None: ...


class PoisonArchive(Protocol):
    """Where every poisoned body is kept (an upsert: the same row twice stays one row)."""

    def put(self, entity: dict[str, Any]) -> None: ...


class Arm(Protocol):
    """The few ARM calls a reconcile step makes; every ARM error raises ``ArmCallFailed``."""

    def get_group(self, subscription_id: str, name: str) -> GroupView: ...

    def create_group(
        self, subscription_id: str, name: str, location: str, tags: Mapping[str, str]
    ) -> GroupView: ...

    def register_provider(self, subscription_id: str) -> None: ...

    def start_cluster_create(
        self, ref: ClusterRef, body: dict[str, Any], *, create_only: bool
    ) -> CreateStarted:
        """PUT the cluster without waiting; ``create_only`` sends ``If-None-Match: *``."""
        ...

    def get_cluster(self, ref: ClusterRef) -> ClusterView | None:
        """The cluster, or None when ARM says it does not exist."""
        ...

    def get_operation(self, subscription_id: str, url: str) -> OperationView: ...


# ---- what the sweeper needs (provisioning.sweeper) -------------------------------------------


class SweptStatus(StatusStore, Protocol):
    """The status table as the sweeper uses it: also deletes, under the ETag it read."""

    def delete(self, record: StatusRecord) -> bool:
        """False when the record changed or went since it was read."""
        ...


class DueIndex(Protocol):
    """The overdue index (``provisioning.due_index``): "look at request X at time T"."""

    def file(self, request_id: str, due: datetime) -> DueEntry: ...

    def due(self, now: datetime, limit: int) -> list[DueEntry]: ...

    def remove(self, entry: DueEntry) -> None: ...


class RetainedArchive(PoisonArchive, Protocol):
    """The poison archive with retention."""

    def delete_request(self, request_id: str) -> int: ...

    def delete_unreadable_before(self, cutoff: datetime) -> int: ...


class Drain(Protocol):
    """A queue nothing triggers on (``-poison-poison``): received and deleted by hand."""

    def receive(self, limit: int) -> list[tuple[Delivery, str]]: ...

    def delete(self, delivery: Delivery, pop_receipt: str) -> None: ...


class RequesterIndex(Protocol):
    """Per requester (one partition each): in-flight slots, and the requests newest first.

    ``key`` is a requester's oid, ``queue``, or ``$all`` (every request, for ``ReadAll``).
    """

    def slots(self, key: str) -> list[Slot]: ...

    def take(self, key: str, number: int, request_id: str, now: datetime, run: int = 1) -> bool:
        """Claim slot ``number`` for run ``run`` (an insert); False when someone holds it."""
        ...

    def renew(self, key: str, slot: Slot, run: int, now: datetime) -> bool:
        """Hand ``slot`` to run ``run`` of its request, taken ``now``, if it is unchanged since
        it was read (a replace under its ETag); False when it changed or is gone."""
        ...

    def free(self, key: str, slot: Slot) -> None:
        """Delete ``slot`` if it is unchanged since it was read (else leave it)."""
        ...

    def note(self, key: str, request_id: str, created_at: datetime) -> None:
        """List ``request_id`` under ``key`` (an upsert: noting twice stays one row)."""
        ...

    def page(self, key: str, size: int, continuation: str | None) -> Page: ...
