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

from localazure.entra import Tenant
from localazure.entra.app import metadata_document
from provisioning.bearer import SigningKeys, TokenRules, TokenValidator, issuer_of, metadata_url
from provisioning.due_index import DueEntry, slot_of
from provisioning.errors import ArmCallFailed, ErrorInfo
from provisioning.messages import ChainMessage, Delivery
from provisioning.poison import UNREADABLE, handle_poison
from provisioning.reconcile import Deps
from provisioning.settings import Settings
from provisioning.status import StatusRecord, iso
from provisioning.views import (
    ClusterRef,
    ClusterView,
    CreateStarted,
    GroupView,
    OperationView,
    Page,
    Slot,
)

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

    def delete(self, record: StatusRecord) -> bool:
        current = self.records.get(record.request_id)
        if current is None or current.etag != record.etag:
            return False
        del self.records[record.request_id]
        return True


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

    def delete_request(self, request_id: str) -> int:
        keys = [key for key in self.by_key if key[0] == request_id]
        for key in keys:
            del self.by_key[key]
        return len(keys)

    def delete_unreadable_before(self, cutoff: datetime) -> int:
        old = [
            key
            for key, row in self.by_key.items()
            if key[0] == UNREADABLE and str(row["archived_at"]) < str(iso(cutoff))
        ]
        for key in old:
            del self.by_key[key]
        return len(old)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.by_key.values())


class MemoryDueIndex:
    """The overdue index: entries by (slot, request id), due by their slot's minute."""

    def __init__(self) -> None:
        self.entries: set[DueEntry] = set()

    def file(self, request_id: str, due: datetime) -> DueEntry:
        entry = DueEntry(request_id, slot_of(due))
        self.entries.add(entry)
        return entry

    def due(self, now: datetime, limit: int) -> list[DueEntry]:
        due = [e for e in self.entries if e.slot <= slot_of(now)]
        return sorted(due, key=lambda e: (e.slot, e.request_id))[:limit]

    def remove(self, entry: DueEntry) -> None:
        self.entries.discard(entry)


class MemoryDrain:
    """A queue nothing triggers on, holding message texts until they are received and deleted."""

    def __init__(self, *texts: bytes) -> None:
        self.messages = {f"pp-{i}": text for i, text in enumerate(texts)}

    def receive(self, limit: int) -> list[tuple[Delivery, str]]:
        return [(Delivery(k, v, 6), f"receipt-{k}") for k, v in self.messages.items()][:limit]

    def delete(self, delivery: Delivery, pop_receipt: str) -> None:
        assert pop_receipt == f"receipt-{delivery.id}"
        self.messages.pop(delivery.id, None)


class MemoryRequesterIndex:
    """The requester table: slots are inserts that conflict, frees are ETag-conditional."""

    def __init__(self) -> None:
        self.slots_by_key: dict[str, dict[int, Slot]] = defaultdict(dict)
        self.listed: dict[str, dict[str, datetime]] = defaultdict(dict)
        self.calls: list[str] = []
        self._etags = itertools.count(1)

    def slots(self, key: str) -> list[Slot]:
        self.calls.append("slots")
        return sorted(self.slots_by_key[key].values(), key=lambda slot: slot.number)

    def take(self, key: str, number: int, request_id: str, now: datetime, run: int = 1) -> bool:
        self.calls.append("take")
        if number in self.slots_by_key[key]:
            return False
        etag = f'W/"{next(self._etags)}"'
        self.slots_by_key[key][number] = Slot(number, request_id, now, etag, run)
        return True

    def renew(self, key: str, slot: Slot, run: int, now: datetime) -> bool:
        self.calls.append("renew")
        current = self.slots_by_key[key].get(slot.number)
        if current is None or current.etag != slot.etag:
            return False
        etag = f'W/"{next(self._etags)}"'
        self.slots_by_key[key][slot.number] = replace(current, run=run, taken_at=now, etag=etag)
        return True

    def free(self, key: str, slot: Slot) -> None:
        self.calls.append("free")
        current = self.slots_by_key[key].get(slot.number)
        if current is not None and current.etag == slot.etag:
            del self.slots_by_key[key][slot.number]

    def note(self, key: str, request_id: str, created_at: datetime) -> None:
        self.calls.append("note")
        self.listed[key][request_id] = created_at

    def page(self, key: str, size: int, continuation: str | None) -> Page:
        ordered = sorted(self.listed[key].items(), key=lambda item: (item[1], item[0]))[::-1]
        start = int(continuation or 0)
        chunk = ordered[start : start + size]
        more = start + size < len(ordered)
        return Page(tuple(rid for rid, _ in chunk), str(start + size) if more else None)


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
    requesters: MemoryRequesterIndex = field(default_factory=MemoryRequesterIndex)

    @property
    def deps(self) -> Deps:
        return Deps(
            settings=self.settings,
            arm=self.arm,
            status=self.status,
            outbox=self.outbox,
            clock=lambda: self.now,
            jitter=lambda: 0.0,
            requesters=self.requesters,
        )

    def poison(self, delivery: Delivery, queue_name: str = "q-poison") -> None:
        """The poison trigger on ``delivery``, wired as the app wires it."""
        handle_poison(
            delivery,
            self.status,
            self.archive,
            queue_name,
            max_attempts=self.settings.rg_visibility_attempts,
        )


class MemoryDirectory:
    """A tenant's OpenID metadata and JWKS, served by a fetch function; counts fetches."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.fetched: list[str] = []
        self.down = False

    def __call__(self, url: str) -> dict[str, Any]:
        self.fetched.append(url)
        if self.down:
            raise OSError("connection refused")
        document = metadata_document(self.tenant)
        if url == metadata_url(self.tenant.authority_host, self.tenant.tenant_id):
            return document
        if url == document["jwks_uri"]:
            return self.tenant.keys.jwks()
        raise OSError(f"404 {url}")


class Clock:
    """A monotonic clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def memory_validator(
    directory: MemoryDirectory, audience: str, clock: Clock | None = None
) -> tuple[TokenValidator, SigningKeys]:
    """The app's token validator for ``directory``'s tenant, with ``audience`` in both forms."""
    tenant = directory.tenant
    keys = SigningKeys(
        metadata_url(tenant.authority_host, tenant.tenant_id), directory, clock=clock or Clock()
    )
    rules = TokenRules(
        issuer=issuer_of(tenant.authority_host, tenant.tenant_id),
        audiences=frozenset({audience, f"api://{audience}"}),
        tenant_id=tenant.tenant_id,
    )
    return TokenValidator(rules, keys), keys


class MemoryLease:
    """The delivered message's visibility: what was deferred, by how long."""

    def __init__(self) -> None:
        self.deferred: list[tuple[str, int]] = []

    def defer(self, delivery: Delivery, seconds: int) -> None:
        assert delivery.pop_receipt, "only a delivery with its pop receipt can be deferred"
        self.deferred.append((delivery.id, seconds))
