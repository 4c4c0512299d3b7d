"""Scenario setters shared by the in-process API, the CLI and the admin route."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from localazure.arm.catalog import AKS_API_VERSIONS, short_location
from localazure.arm.permissions import permission_entry
from localazure.arm.scenario import (
    AksLag,
    AksLagMode,
    ClusterPlan,
    Countdown,
    Fault,
    FaultKind,
    Flap,
    Lag,
    Outcome,
    TokenBucket,
)
from localazure.arm.store import (
    DEFAULT_SUBSCRIPTION,
    Call,
    CallHook,
    Group,
    GroupKey,
    Hook,
    Registration,
    Store,
    normalize_location,
)

_T = TypeVar("_T")

# The setters the admin route may call by name.
SCENARIO_SETTERS = (
    "set_read_lag",
    "set_aks_lag",
    "add_group",
    "set_group_delete",
    "set_cluster_create",
    "set_unregistered",
    "add_fault",
    "set_retry_after",
    "set_permissions",
    "set_vcpu_quota",
    "restrict_vm_size",
    "set_read_flap",
    "set_aks_flap",
    "set_aks_api_versions",
    "set_kubernetes_versions",
    "set_throttling",
)
# ARM's documented token buckets per subscription (size, refill per second).
ARM_THROTTLE_LIMITS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}


class ScenarioControl:
    """Knobs for how the emulated Azure behaves; every setter is keyword-only."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def set_read_lag(
        self,
        *,
        reads: int = 0,
        seconds: float = 0.0,
        group: str | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """After a group is created, its first ``reads`` GET/HEAD calls (and/or those in the
        first ``seconds``) answer 404 ``ResourceGroupNotFound``. ``group=None`` sets the
        default for every group; a named group also restarts the lag if it exists."""
        lag = Lag(reads, seconds)
        with self._store.lock:
            state = self._store.state
            if group is None:
                state.read_lag = lag
            elif existing := self._for_group(state.group_read_lag, lag, group, subscription):
                existing.hidden = lag.countdown()

    def set_aks_lag(
        self,
        *,
        failures: int = 1,
        seconds: float = 0.0,
        mode: AksLagMode = "immediate",
        group: str | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """The AKS provider does not see a new group for its first ``failures`` cluster PUTs
        (and/or ``seconds``): ``mode="immediate"`` answers 404 ``ResourceGroupNotFound`` at
        once, ``mode="async"`` accepts the PUT and fails its operation with that code."""
        if mode not in ("immediate", "async"):
            raise ValueError("mode must be 'immediate' or 'async'")
        lag = AksLag(failures, seconds, mode)
        with self._store.lock:
            state = self._store.state
            if group is None:
                state.aks_lag = lag
            elif existing := self._for_group(state.group_aks_lag, lag, group, subscription):
                existing.aks_hidden = Countdown.start(failures, seconds)
                existing.aks_mode = mode

    def add_group(
        self,
        name: str,
        *,
        location: str = "eastus",
        tags: dict[str, str] | None = None,
        provisioning_state: str = "Succeeded",
        managed_by: str | None = None,
        deleting_reads: int = 1,
        deleting_seconds: float = 0.0,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """A group that already exists (no propagation lag). With
        ``provisioning_state="Deleting"`` it reads as Deleting for ``deleting_reads`` reads
        and/or ``deleting_seconds``, then is gone."""
        with self._store.lock:
            group = self._store.create_group(subscription, name, location, lag_applies=False)
            group.tags = dict(tags or {})
            group.managed_by = managed_by
            group.provisioning_state = provisioning_state
            if provisioning_state == "Deleting":
                self._store.start_delete(group, Lag(deleting_reads, deleting_seconds))

    def set_group_delete(self, *, polls: int = 1, seconds: float = 0.0) -> None:
        """A deleted group stays ``Deleting`` for ``polls`` reads/polls and/or ``seconds``."""
        with self._store.lock:
            self._store.state.delete_lag = Lag(polls, seconds)

    def set_cluster_create(
        self,
        *,
        polls: int = 1,
        seconds: float = 0.0,
        outcome: Outcome = "Succeeded",
        error_code: str = "InternalOperationError",
        error_message: str = "Reconcile managed cluster failed.",
        times: int | None = None,
        cluster: str | None = None,
        group: str | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """Cluster operations answer ``InProgress`` for ``polls`` status GETs and/or
        ``seconds``, then ``outcome``. A Failed outcome carries ``error_code``/``message``
        and applies to the next ``times`` operations (None: all). ``cluster`` (with
        ``group``) limits the plan to one cluster."""
        if outcome not in ("Succeeded", "Failed", "Canceled"):
            raise ValueError("outcome must be 'Succeeded', 'Failed' or 'Canceled'")
        plan = ClusterPlan(polls, seconds, outcome, error_code, error_message, times)
        with self._store.lock:
            if cluster is None:
                self._store.state.cluster_plan = plan
                return
            if group is None:
                raise ValueError("a per-cluster plan needs its group")
            key = (subscription.lower(), group.lower(), cluster.lower())
            self._store.state.cluster_plans[key] = plan

    def set_unregistered(
        self, subscription: str = DEFAULT_SUBSCRIPTION, *, polls: int = 1, seconds: float = 0.0
    ) -> None:
        """``Microsoft.ContainerService`` is NotRegistered in ``subscription``; after the
        register POST it reads ``Registering`` for ``polls`` provider GETs and/or
        ``seconds``, then ``Registered``."""
        with self._store.lock:
            self._store.state.registrations[subscription.lower()] = Registration(
                delay=Lag(polls, seconds)
            )

    def add_fault(
        self,
        kind: FaultKind,
        *,
        method: str = "*",
        path: str = ".*",
        times: int | None = 1,
        retry_after: int = 1,
        action: str | None = None,
        scope: str | None = None,
    ) -> None:
        """Fail the next ``times`` requests (None: all) whose method and path (a regex,
        searched case-insensitively) match. Kinds: ``throttle`` (429 + Retry-After),
        ``server_error`` (500), ``unavailable`` (503 + Retry-After), ``unauthorized`` (401),
        ``forbidden`` (403 AuthorizationFailed), ``policy`` (403 RequestDisallowedByPolicy),
        ``drop`` (connection closed without an answer), ``operation_not_allowed`` (409
        OperationNotAllowed: AKS says another operation is running on the cluster)."""
        fault = Fault(kind, method, path, times, retry_after, action, scope)
        with self._store.lock:
            self._store.state.faults.append(fault)

    def set_retry_after(self, seconds: int) -> None:
        """The Retry-After the emulator puts on its own 201/202 async answers (default 1);
        0 leaves the header out so clients fall back to their own polling interval."""
        with self._store.lock:
            self._store.state.retry_after = max(int(seconds), 0)

    def set_permissions(
        self,
        actions: list[str],
        *,
        not_actions: list[str] | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """What ``Microsoft.Authorization/permissions`` lists for the caller in
        ``subscription``: one entry with these actions and notActions (default: the app's
        custom role). Reporting only; denials still come from ``add_fault("forbidden")``."""
        with self._store.lock:
            self._store.state.permissions[subscription.lower()] = [
                permission_entry(actions, not_actions or [])
            ]

    def set_vcpu_quota(self, location: str, family: str, *, limit: int, used: int = 0) -> None:
        """The vCPU quota ``family`` (e.g. ``standardDSv5Family``, or ``cores`` for the
        regional total) in ``location``: ``limit``, with ``used`` vCPUs held elsewhere. The
        emulated clusters' nodes in the region count on top of ``used``."""
        with self._store.lock:
            region = self._store.state.quotas.setdefault(normalize_location(location), {})
            region[family] = (int(limit), int(used))

    def restrict_vm_size(self, location: str, vm_size: str) -> None:
        """``vm_size`` is listed with a ``NotAvailableForSubscription`` restriction in
        ``location`` by the resource SKUs API."""
        with self._store.lock:
            self._store.state.restricted_sizes.add((normalize_location(location), vm_size.lower()))

    def set_read_flap(
        self,
        *,
        windows: Iterable[Sequence[float]],
        group: str | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """ARM reads (GET/HEAD) of a group answer 404 ``ResourceGroupNotFound`` during each
        ``(start, end)`` window, in seconds from the group's creation, and see it between them
        (visible, 404, visible). ``group=None`` sets the default for new groups."""
        self._set_flap(windows, group, subscription, aks=False)

    def set_aks_flap(
        self,
        *,
        windows: Iterable[Sequence[float]],
        group: str | None = None,
        subscription: str = DEFAULT_SUBSCRIPTION,
    ) -> None:
        """The AKS provider does not see a group during each ``(start, end)`` window (seconds
        from its creation), separately from ARM reads; how it says so follows ``set_aks_lag``'s
        ``mode`` (default: an immediate 404 ``ResourceGroupNotFound`` on the PUT)."""
        self._set_flap(windows, group, subscription, aks=True)

    def _set_flap(
        self,
        windows: Iterable[Sequence[float]],
        group: str | None,
        subscription: str,
        *,
        aks: bool,
    ) -> None:
        flap = Flap(tuple((float(a), float(b)) for a, b in windows))
        with self._store.lock:
            state = self._store.state
            if group is None:
                if aks:
                    state.aks_flap = flap
                else:
                    state.read_flap = flap
                return
            per_group = state.group_aks_flap if aks else state.group_read_flap
            if existing := self._for_group(per_group, flap, group, subscription):
                if aks:
                    existing.aks_flap = flap
                else:
                    existing.read_flap = flap

    def _for_group(
        self, per_group: dict[GroupKey, _T], value: _T, group: str, subscription: str
    ) -> Group | None:
        """Keep ``value`` for ``group``'s future creations; the group if it exists now, so the
        caller applies it there too (a setter for one group also restarts an existing one)."""
        key: GroupKey = (subscription.lower(), group.lower())
        per_group[key] = value
        return self._store.state.groups.get(key)

    def set_aks_api_versions(self, *, location: str, versions: Sequence[str]) -> None:
        """The AKS api-versions ``location`` offers (the default: all of them, everywhere).
        Any other version there gets 400 ``NoRegisteredProviderFound``; an empty list drops
        the region from the provider's ``locations``."""
        unknown = set(versions) - set(AKS_API_VERSIONS)
        if unknown:
            raise ValueError(f"unknown AKS api-versions {sorted(unknown)}")
        with self._store.lock:
            self._store.state.aks_offer[short_location(location)] = tuple(versions)

    def set_kubernetes_versions(self, *, location: str, versions: Sequence[str]) -> None:
        """The Kubernetes versions (MAJOR.MINOR.PATCH) AKS offers in ``location``; any other
        gets 400 ``AgentPoolK8sVersionNotSupported``."""
        with self._store.lock:
            self._store.state.kubernetes_offer[short_location(location)] = tuple(versions)

    def set_throttling(
        self,
        enabled: bool = True,
        *,
        reads: Sequence[float] = ARM_THROTTLE_LIMITS["reads"],
        writes: Sequence[float] = ARM_THROTTLE_LIMITS["writes"],
        deletes: Sequence[float] = ARM_THROTTLE_LIMITS["deletes"],
    ) -> None:
        """ARM's token buckets per subscription, for reads, writes and deletes separately
        (``(bucket size, refill per second)``, ARM's documented 250/25, 200/10, 200/10 by
        default). An empty bucket answers 429 ``SubscriptionRequestsThrottled`` with
        ``Retry-After``. Off by default; ``enabled=False`` turns it off again."""
        with self._store.lock:
            state = self._store.state
            state.buckets.clear()
            state.throttle_limits = None
            if enabled:
                limits = {"reads": reads, "writes": writes, "deletes": deletes}
                for size, refill in limits.values():
                    TokenBucket(size, refill)  # refuses a bucket that could never pass a call
                state.throttle_limits = {
                    kind: (float(size), float(refill)) for kind, (size, refill) in limits.items()
                }

    def on_call(self, callback: CallHook, *, method: str = "*", path: str = ".*") -> None:
        """Call ``callback(call, peer_port, response_headers)`` for every request whose method
        and path (a regex, searched case-insensitively) match, after the emulator has answered
        it (its state changed, the call logged) and before the answer goes on the wire.
        ``peer_port`` is the client's TCP port, which tells which process made the call.
        Crash tests use it to kill a caller exactly at a step boundary; ``reset()`` clears it.
        In-process only (a callback cannot cross the admin route)."""
        with self._store.lock:
            self._store.state.hooks.append(Hook(callback, method, path))

    # -- observation ------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of the ARM call log, oldest first."""
        with self._store.lock:
            return list(self._store.state.calls)

    @property
    def token_fetches(self) -> dict[str, int]:
        """How many tokens the identity endpoint issued, per audience."""
        with self._store.lock:
            return dict(self._store.state.token_fetches)

    def apply(self, setter: str, args: dict[str, Any]) -> None:
        """Call one named scenario setter (used by the admin route and the CLI)."""
        if setter not in SCENARIO_SETTERS:
            raise ValueError(f"unknown scenario setter {setter!r}; use one of {SCENARIO_SETTERS}")
        getattr(self, setter)(**args)
