"""One shared set of honest in-memory stand-ins for the Protocols in ``provisioning.ports``.

Honest means they keep the real services' rules that the reconcile logic depends on: an insert
of an existing record conflicts, a replace with a stale (or no) ETag is refused, every stored
write gets a new ETag, a create-only PUT of an existing cluster answers 412. They record what
was sent so tests can assert on it; they never stand in for an SDK's internals.
"""

from __future__ import annotations

import base64
import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from provisioning.errors import ArmCallFailed, ErrorInfo
from provisioning.messages import ChainMessage, Delivery
from provisioning.reconcile import Deps
from provisioning.settings import Settings
from provisioning.status import StatusRecord
from provisioning.views import ClusterRef, ClusterView, CreateStarted, GroupView, OperationView

IN_PROGRESS = OperationView("InProgress", None, None)


class MemoryStatusStore:
    """The status table: one record per request id, written only under its current ETag."""

    def __init__(self) -> None:
        self.records: dict[str, StatusRecord] = {}
        self.asked: list[str] = []  # every request id read, in order
        self.writes = 0
        self._etags = itertools.count(1)

    def _store(self, record: StatusRecord) -> StatusRecord:
        stored = replace(record, etag=f'W/"{next(self._etags)}"')
        self.records[record.request_id] = stored
        self.writes += 1
        return stored

    def get(self, request_id: str) -> StatusRecord | None:
        self.asked.append(request_id)
        return self.records.get(request_id)

    def seed(self, *records: StatusRecord) -> None:
        """Records already in the table (each stored with a fresh ETag)."""
        for record in records:
            self._store(record)

    def insert(self, record: StatusRecord) -> StatusRecord | None:
        if record.request_id in self.records:
            return None
        return self._store(record)

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        current = self.records.get(record.request_id)
        if current is None or record.etag is None or current.etag != record.etag:
            return None
        return self._store(record)


class MemoryOutbox:
    """The provisioning and poison queues, as lists of what was sent."""

    def __init__(self) -> None:
        self.chained: list[tuple[ChainMessage, int]] = []
        self.poisoned: list[bytes] = []

    def send_chain(self, message: ChainMessage, delay_seconds: int) -> None:
        self.chained.append((message, delay_seconds))

    def send_poison(self, wire: bytes) -> None:
        self.poisoned.append(wire)

    def chain_delivery(self, index: int = -1, message_id: str = "chain-1") -> Delivery:
        """A chain message that was sent, as the trigger would receive it."""
        message, _ = self.chained[index]
        return Delivery(message_id, base64.b64encode(message.to_json().encode()), 1)


class MemoryArchive:
    """The poison archive table: upserts keyed by (PartitionKey, RowKey)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, entity: dict[str, Any]) -> None:
        self.by_key[(entity["PartitionKey"], entity["RowKey"])] = dict(entity)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.by_key.values())


@dataclass
class FakeArm:
    """ARM as one subscription shows it: groups and clusters by name, scripted failures.

    ``fail(method, ...)`` queues an ``ArmCallFailed`` that the next call of that method raises.
    """

    groups: dict[str, GroupView] = field(default_factory=dict)
    clusters: dict[str, ClusterView] = field(default_factory=dict)
    operation: OperationView = IN_PROGRESS
    group_state_after_create: str = "Succeeded"
    calls: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    _failures: defaultdict[str, list[ArmCallFailed]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def fail(
        self, method: str, status: int | None, code: str, retry_after: float | None = None
    ) -> None:
        self._failures[method].append(
            ArmCallFailed(status, ErrorInfo(code, f"{code} (scripted)"), retry_after)
        )

    def _call(self, method: str) -> None:
        self.calls.append(method)
        if self._failures[method]:
            raise self._failures[method].pop(0)

    def get_group(self, subscription_id: str, name: str) -> GroupView:
        self._call("get_group")
        return self.groups.get(name, GroupView(exists=False))

    def create_group(
        self, subscription_id: str, name: str, location: str, tags: Mapping[str, str]
    ) -> GroupView:
        self._call("create_group")
        group = GroupView(
            exists=True,
            state=self.group_state_after_create,
            tags=dict(tags),
            id=f"/subscriptions/{subscription_id}/resourceGroups/{name}",
        )
        self.groups[name] = group
        return group

    def register_provider(self, subscription_id: str) -> None:
        self._call("register_provider")
        self.registered.append(subscription_id)

    def start_cluster_create(
        self, ref: ClusterRef, body: dict[str, Any], *, create_only: bool
    ) -> CreateStarted:
        self._call("start_cluster_create")
        if create_only and ref.name in self.clusters:  # If-None-Match: * on an existing one
            raise ArmCallFailed(412, ErrorInfo("PreconditionFailed", "the cluster exists"))
        cluster_id = (
            f"/subscriptions/{ref.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{ref.name}"
        )
        self.clusters[ref.name] = ClusterView(cluster_id, "Creating", dict(body.get("tags", {})))
        operation = (
            f"https://management.azure.com/subscriptions/{ref.subscription_id}/providers/"
            f"Microsoft.ContainerService/locations/westeurope/operations/{len(self.calls)}"
        )
        return CreateStarted(cluster_id, operation, None)

    def get_cluster(self, ref: ClusterRef) -> ClusterView | None:
        self._call("get_cluster")
        return self.clusters.get(ref.name)

    def get_operation(self, subscription_id: str, url: str) -> OperationView:
        self._call("get_operation")
        return self.operation


@dataclass
class World:
    """The fakes a reconcile step runs against, and the ``Deps`` that wire them."""

    settings: Settings
    now: datetime
    status: MemoryStatusStore = field(default_factory=MemoryStatusStore)
    outbox: MemoryOutbox = field(default_factory=MemoryOutbox)
    arm: FakeArm = field(default_factory=FakeArm)
    archive: MemoryArchive = field(default_factory=MemoryArchive)

    @property
    def deps(self) -> Deps:
        return Deps(
            settings=self.settings,
            arm=self.arm,
            status=self.status,
            outbox=self.outbox,
            clock=lambda: self.now,
            jitter=lambda: 0.0,
        )
