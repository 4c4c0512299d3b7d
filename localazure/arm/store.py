"""The emulator's in-memory Azure: groups, clusters, operations, registrations, call log.

One re-entrant lock guards everything; requests are short, so handlers simply hold it.
Names are keyed case-insensitively because ARM treats them that way.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localazure.arm.catalog import AKS_API_VERSIONS, LOCATIONS, short_location
from localazure.arm.scenario import AksLag, ClusterPlan, Countdown, Fault, Flap, Lag, TokenBucket

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

GroupKey = tuple[str, str]
ClusterKey = tuple[str, str, str]


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


normalize_location = short_location


@dataclass
class Group:
    subscription: str
    name: str
    location: str
    tags: dict[str, str] = field(default_factory=dict)
    managed_by: str | None = None
    provisioning_state: str = "Succeeded"
    hidden: Countdown = field(default_factory=Countdown)
    aks_hidden: Countdown = field(default_factory=Countdown)
    aks_mode: str = "immediate"
    deleting: Countdown | None = None
    created: float = field(default_factory=time.monotonic)
    read_flap: Flap = field(default_factory=Flap)
    aks_flap: Flap = field(default_factory=Flap)

    def hidden_from_reads(self) -> bool:
        """One ARM read of the group: True when it answers 404 (lag or a flap window)."""
        return self.hidden.observe() or self.read_flap.hidden(self.created)

    def hidden_from_aks(self) -> bool:
        """One AKS look at the group: True when AKS answers ResourceGroupNotFound."""
        return self.aks_hidden.observe() or self.aks_flap.hidden(self.created)


@dataclass
class Cluster:
    subscription: str
    group: str
    name: str
    location: str
    body: dict[str, Any]
    operation_id: str | None = None


@dataclass
class Operation:
    id: str
    subscription: str
    location: str
    cluster: ClusterKey
    started: str
    progress: Countdown
    outcome: str
    error_code: str = ""
    error_message: str = ""
    ended: str | None = None
    kind: str = "create"


@dataclass
class Registration:
    state: str = "NotRegistered"
    delay: Lag = field(default_factory=Lag)
    progress: Countdown | None = None


@dataclass(frozen=True)
class Call:
    """One request as the emulator saw it (status 0: the connection was dropped)."""

    time: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    body: Any
    headers: dict[str, str]


# ``callback(call, peer_port, response_headers)``: see ``ScenarioControl.on_call``.
CallHook = Callable[[Call, int, Mapping[str, str]], None]


@dataclass
class Hook:
    """A callback for answered requests whose method and path match."""

    callback: CallHook
    method: str = "*"
    path: str = ".*"
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path, re.IGNORECASE)

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


def default_aks_offer() -> dict[str, tuple[str, ...]]:
    return {short_location(name): AKS_API_VERSIONS for name in LOCATIONS}


@dataclass
class State:
    """Everything ``reset()`` clears."""

    groups: dict[GroupKey, Group] = field(default_factory=dict)
    clusters: dict[ClusterKey, Cluster] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    delete_jobs: dict[str, GroupKey] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    read_lag: Lag = field(default_factory=Lag)
    group_read_lag: dict[GroupKey, Lag] = field(default_factory=dict)
    aks_lag: AksLag = field(default_factory=AksLag)
    group_aks_lag: dict[GroupKey, AksLag] = field(default_factory=dict)
    delete_lag: Lag = field(default_factory=lambda: Lag(count=1))
    cluster_plan: ClusterPlan = field(default_factory=ClusterPlan)
    cluster_plans: dict[ClusterKey, ClusterPlan] = field(default_factory=dict)
    retry_after: int = 1
    read_flap: Flap = field(default_factory=Flap)
    group_read_flap: dict[GroupKey, Flap] = field(default_factory=dict)
    aks_flap: Flap = field(default_factory=Flap)
    group_aks_flap: dict[GroupKey, Flap] = field(default_factory=dict)
    # Region (short name) -> AKS api-versions offered there.
    aks_offer: dict[str, tuple[str, ...]] = field(default_factory=default_aks_offer)
    # Region -> Kubernetes versions offered; absent: the catalog's all.
    kubernetes_offer: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # (bucket size, refill per second) for reads, writes and deletes; None: no throttling.
    throttle_limits: dict[str, tuple[float, float]] | None = None
    buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    hooks: list[Hook] = field(default_factory=list)
    token_fetches: dict[str, int] = field(default_factory=dict)
    # subscription -> Microsoft.Authorization/permissions entries (wire shape); absent: default
    permissions: dict[str, list[dict[str, list[str]]]] = field(default_factory=dict)
    # region -> quota name ("cores" or a VM family) -> (limit, vCPUs used outside the emulator)
    quotas: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    # (region, VM size lowercased) the subscription may not use there
    restricted_sizes: set[tuple[str, str]] = field(default_factory=set)


class Store:
    """Thread-safe holder of :class:`State`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.state = State()

    def reset(self) -> None:
        with self.lock:
            self.state = State()

    def log_call(self, call: Call) -> None:
        with self.lock:
            self.state.calls.append(call)

    def count_token(self, resource: str) -> None:
        with self.lock:
            fetches = self.state.token_fetches
            fetches[resource] = fetches.get(resource, 0) + 1

    # -- groups -----------------------------------------------------------------------------

    def group(self, subscription: str, name: str) -> Group | None:
        """The group as stored, finishing a deletion whose time is up."""
        key = (subscription.lower(), name.lower())
        group = self.state.groups.get(key)
        if group is not None and group.deleting is not None and not group.deleting.pending():
            self.remove_group(key)
            return None
        return group

    def remove_group(self, key: GroupKey) -> None:
        self.state.groups.pop(key, None)
        for cluster_key in [k for k in self.state.clusters if k[:2] == key]:
            del self.state.clusters[cluster_key]

    def create_group(
        self, subscription: str, name: str, location: str, *, lag_applies: bool = True
    ) -> Group:
        key = (subscription.lower(), name.lower())
        group = Group(subscription=subscription, name=name, location=normalize_location(location))
        if lag_applies:
            read_lag = self.state.group_read_lag.get(key, self.state.read_lag)
            group.hidden = read_lag.countdown()
            aks = self.state.group_aks_lag.get(key, self.state.aks_lag)
            group.aks_hidden = Countdown.start(aks.failures, aks.seconds)
            group.aks_mode = aks.mode
            group.read_flap = self.state.group_read_flap.get(key, self.state.read_flap)
            group.aks_flap = self.state.group_aks_flap.get(key, self.state.aks_flap)
        self.state.groups[key] = group
        return group

    def start_delete(self, group: Group, lag: Lag | None = None) -> None:
        group.provisioning_state = "Deleting"
        group.deleting = (lag or self.state.delete_lag).countdown()

    # -- clusters ---------------------------------------------------------------------------

    def plan_for(self, key: ClusterKey) -> ClusterPlan:
        return self.state.cluster_plans.get(key, self.state.cluster_plan)

    def settle(self, operation: Operation, *, observe: bool) -> None:
        """Advance an operation (and its cluster's provisioningState) if its time is up."""
        if operation.ended is not None:
            return
        still_running = operation.progress.observe() if observe else operation.progress.pending()
        if still_running:
            return
        operation.ended = now_iso()
        cluster = self.state.clusters.get(operation.cluster)
        if cluster is not None and cluster.operation_id == operation.id:
            set_cluster_state(cluster.body, operation.outcome)

    def cluster(self, key: ClusterKey, *, observe: bool = False) -> Cluster | None:
        """The cluster, its state settled; ``observe`` when a client reads it (a GET), since AKS
        finishes an operation whoever polls, the operation URL or the cluster."""
        cluster = self.state.clusters.get(key)
        if cluster is not None and cluster.operation_id:
            operation = self.state.operations.get(cluster.operation_id)
            if operation is not None:
                self.settle(operation, observe=observe)
        return cluster

    def running_operation(self, cluster: Cluster) -> Operation | None:
        if not cluster.operation_id:
            return None
        operation = self.state.operations.get(cluster.operation_id)
        if operation is None or operation.ended is not None:
            return None
        return operation

    # -- registration ----------------------------------------------------------------------

    def registration_state(self, subscription: str, *, observe: bool) -> str:
        registration = self.state.registrations.get(subscription.lower())
        if registration is None:
            return "Registered"
        if registration.state == "Registering" and registration.progress is not None:
            pending = (
                registration.progress.observe() if observe else registration.progress.pending()
            )
            if not pending:
                registration.state = "Registered"
        return registration.state


def set_cluster_state(body: dict[str, Any], state: str) -> None:
    body.setdefault("properties", {})["provisioningState"] = state
    for pool in body["properties"].get("agentPoolProfiles", []):
        pool["provisioningState"] = state
