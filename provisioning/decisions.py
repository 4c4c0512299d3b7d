"""Domain decisions as pure functions over plain data: no I/O, no clock, no randomness.

The reconcile step (``reconcile``) gathers facts from Azure, asks these functions what they mean,
and carries the answer out. Each answer is a ``Outcome``: the status record to write, and the delay
of the next chain message (None when the request has ended).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from provisioning.contract import MANAGED_BY_TAG, REQUEST_ID_TAG, REQUESTED_BY_TAG, ClusterRequest
from provisioning.errors import ErrorInfo, Handling, TerminalError, classify
from provisioning.identity import QUEUE, QUEUE_KEY, Requester
from provisioning.policy import Limits
from provisioning.settings import Settings
from provisioning.status import Phase, StatusRecord
from provisioning.views import ClusterView, GroupView

MANAGED_BY = "aks-provisioner"
MAX_DELAY_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Outcome:
    record: StatusRecord
    delay: int | None
    summary: str


class Visibility(Enum):
    VISIBLE = "visible"
    DELETING = "deleting"
    NOT_VISIBLE = "not_visible"


class Arrival(Enum):
    """What a request payload arriving on the queue is, given the request's status record."""

    CONFLICT = "another payload holds this request_id"
    RESUME = "this message inserted the record and died before step 0's commit"
    REDELIVERED = "this message made the record's last write: finish its hand-off"
    REDRIVE = "a failed run of an admitted request: a new run, on its requester's slot"
    READMIT = "refused on arrival and sent again: never admitted, so judged as new"
    DUPLICATE = "the same request while it is live or succeeded: nothing to do"


def arrival(record: StatusRecord, fingerprint: str, message_id: str) -> Arrival:
    """A payload (of ``fingerprint``, in the queue message ``message_id``) for a request that
    has a record. Besides a new one, only a request no run ever admitted (READMIT) is judged by
    the ``"$queue"`` rule; a duplicate, a redelivery or a re-drive of a failed run is not."""
    if record.fingerprint != fingerprint:
        return Arrival.CONFLICT
    if record.advanced_by == message_id:
        resumable = record.step == 0 and not record.phase.terminal
        return Arrival.RESUME if resumable else Arrival.REDELIVERED
    if record.phase is Phase.FAILED:
        return Arrival.REDRIVE if record.admitted else Arrival.READMIT
    return Arrival.DUPLICATE


def app_tags(request_id: str, requester: Requester = QUEUE) -> dict[str, str]:
    """The tags that mark what this app created, for which request and for whom."""
    return {MANAGED_BY_TAG: MANAGED_BY, REQUEST_ID_TAG: request_id, REQUESTED_BY_TAG: requester.key}


def resource_tags(request: ClusterRequest, requester: Requester = QUEUE) -> dict[str, str]:
    return {**dict(request.tags), **app_tags(request.request_id, requester)}


def _refused(code: str, message: str) -> TerminalError:
    return TerminalError(ErrorInfo(code, message))


def policy_error(
    request: ClusterRequest, settings: Settings, limits: Limits | None = None
) -> TerminalError | None:
    """Why the app may not act on this (valid) request for this caller, or None.

    ``limits`` is the caller's effective rule (the global settings when not given); each
    refusal names the rule that refused.
    """
    rule = limits or settings.global_limits

    def by(setting: str) -> str:
        return f"(rule: {rule.source}, capped by {setting})"

    if request.subscription_id not in rule.subscriptions:
        reason = (
            "ALLOWED_SUBSCRIPTIONS is empty, so no subscription is allowed"
            if not settings.allowed_subscriptions
            else f"it is not in the allowed subscriptions {by('ALLOWED_SUBSCRIPTIONS')}"
        )
        return _refused(
            "SubscriptionNotAllowed",
            f"subscription {request.subscription_id} is not allowed: {reason}",
        )
    if rule.locations is not None and request.location not in rule.locations:
        allowed = ", ".join(sorted(rule.locations)) or "none"
        return _refused(
            "LocationNotAllowed",
            f"location {request.location} is not allowed (allowed: {allowed}) "
            f"{by('ALLOWED_LOCATIONS')}",
        )
    if request.cluster.vm_size.casefold() not in rule.vm_sizes:
        return _refused(
            "VmSizeNotAllowed",
            f"VM size {request.cluster.vm_size} is not allowed (allowed: "
            f"{', '.join(sorted(rule.vm_sizes)) or 'none'}) {by('ALLOWED_VM_SIZES')}",
        )
    if request.cluster.node_count > rule.max_node_count:
        return _refused(
            "NodeCountNotAllowed",
            f"node count {request.cluster.node_count} is over the maximum "
            f"{rule.max_node_count} {by('MAX_NODE_COUNT')}",
        )
    prefix = settings.resource_group_prefix
    if prefix and not request.resource_group.lower().startswith(prefix.lower()):
        return _refused(
            "ResourceGroupNotAllowed",
            f"resource group {request.resource_group} does not start with "
            f"RESOURCE_GROUP_PREFIX {prefix!r}",
        )
    return None


def visibility(group: GroupView) -> Visibility:
    """Only a group that ARM shows as Succeeded is visible; Deleting is waited out, not used."""
    if group.exists and (group.state or "").lower() == "succeeded":
        return Visibility.VISIBLE
    if group.exists and (group.state or "").lower() == "deleting":
        return Visibility.DELETING
    return Visibility.NOT_VISIBLE


def ownership_error(
    group: GroupView, settings: Settings, requester: Requester = QUEUE
) -> TerminalError | None:
    """Whether an existing group may take this requester's cluster.

    Ownership is judged only on a group that exists and is not being deleted: a group on its
    way out (a predecessor's, or one made by hand) is waited out by ``after_check``, whatever
    its tags, and then created anew as ours. A group another resource manages (ARM
    ``managedBy``: an AKS node group, a managed app) is never a target. A group this app
    created for the same requester is (one created before requesters were recorded counts as
    the queue's); one it created for someone else, or did not create, only with
    ADOPT_EXISTING_RESOURCE_GROUPS=true.
    """
    if visibility(group) is Visibility.DELETING or not group.exists:
        return None
    if group.managed_by:
        return _not_owned(group, f"resource group is managed by {group.managed_by}; never a target")
    ours = group.tags.get(MANAGED_BY_TAG) == MANAGED_BY
    # Groups made before requesters were recorded were made for queue messages.
    if (ours and group.tags.get(REQUESTED_BY_TAG, QUEUE_KEY) == requester.key) or (
        settings.adopt_existing_resource_groups
    ):
        return None
    why = (
        f"resource group was created by this app for another requester ({REQUESTED_BY_TAG} is not "
        f"{requester.key})"
        if ours
        else f"resource group exists without the tag {MANAGED_BY_TAG}={MANAGED_BY}"
    )
    return _not_owned(
        group,
        f"{why}; the app does not take over groups it did not create for you (set "
        "ADOPT_EXISTING_RESOURCE_GROUPS=true to allow)",
    )


def _not_owned(group: GroupView, message: str) -> TerminalError:
    return TerminalError(ErrorInfo("ResourceGroupNotOwned", message, scope=group.id))


def transient_delay(failures: int, retry_after: float | None, jitter: float = 0.0) -> int:
    """Seconds before retrying after the ``failures``-th transient error (1-based).

    ``min(cap, max(Retry-After, 5 * 2 ** (failures - 1) + jitter))``: Azure's own wait wins when
    it is longer, and nothing waits more than 15 minutes.
    """
    exponent = min(max(failures - 1, 0), 16)  # 5 * 2**16 is far past the cap: no overflow
    backoff = 5 * 2**exponent + max(jitter, 0.0)
    return _capped_seconds(max(backoff, retry_after or 0.0))


def _capped_seconds(seconds: float) -> int:
    """Whole seconds for a visibility delay: at most 15 minutes, whatever Azure asked for."""
    if not math.isfinite(seconds):
        return MAX_DELAY_SECONDS
    return int(min(MAX_DELAY_SECONDS, math.ceil(max(seconds, 0.0))))


def after_transient(
    record: StatusRecord,
    info: ErrorInfo,
    retry_after: float | None,
    settings: Settings,
    jitter: float,
) -> Outcome:
    """Retry later on a separate budget from the visibility checks, or give up past it."""
    failures = record.transient_failures + 1
    if failures > settings.transient_retries:
        error = ErrorInfo(
            info.code,
            f"gave up after {settings.transient_retries} transient errors; last: {info.message}",
            correlation_id=info.correlation_id,
        )
        return fail(record, error)
    delay = transient_delay(failures, retry_after, jitter)
    changed = replace(record, transient_failures=failures)
    return Outcome(
        changed,
        delay,
        f"transient error {info.code} ({failures}/{settings.transient_retries}); "
        f"retrying in {delay} s",
    )


def fail(record: StatusRecord, error: ErrorInfo) -> Outcome:
    return Outcome(replace(record, phase=Phase.FAILED, error=error), None, f"failed: {error.code}")


def _past_deadline(
    record: StatusRecord, since: datetime, now: datetime, minutes: float, error: ErrorInfo
) -> Outcome | None:
    """The run fails with ``error`` once ``minutes`` have passed since ``since``; else None."""
    if now - since >= timedelta(minutes=minutes):
        return fail(record, error)
    return None


def after_check(
    record: StatusRecord, group: GroupView, now: datetime, settings: Settings
) -> Outcome | None:
    """What one visibility check means; None when the group is visible and AKS may start."""
    seen = visibility(group)
    if seen is Visibility.VISIBLE:
        return None
    if seen is Visibility.DELETING:
        since = record.deleting_since or now
        waited_out = _past_deadline(
            record,
            since,
            now,
            settings.rg_deleting_wait_minutes,
            ErrorInfo(
                "ResourceGroupBeingDeleted",
                f"resource group {record.resource_group} was still being deleted after "
                f"{settings.rg_deleting_wait_minutes} minutes",
                scope=group.id,
            ),
        )
        if waited_out is not None:
            return waited_out
        # Once the deletion ends the group is gone: the next step creates it anew.
        changed = replace(record, deleting_since=since, rg_created=False)
        delay = settings.rg_deleting_delay_seconds
        return Outcome(
            changed,
            delay,
            f"resource group {record.resource_group} is being deleted; checking again in {delay} s",
        )
    if record.attempt >= settings.rg_visibility_attempts:
        return fail(
            record,
            ErrorInfo(
                "ResourceGroupNotFound",
                f"resource group {record.resource_group} was not visible after "
                f"{settings.rg_visibility_attempts} checks",
            ),
        )
    delay = settings.rg_visibility_delay_seconds
    changed = replace(record, attempt=record.attempt + 1, deleting_since=None)
    return Outcome(
        changed,
        delay,
        f"resource group {record.resource_group} not visible yet (attempt "
        f"{record.attempt}/{settings.rg_visibility_attempts}); checking again in {delay} s",
    )


def back_to_visibility(record: StatusRecord, settings: Settings, reason: str) -> Outcome:
    """AKS could not see the group: check it again, then re-issue the create (bounded)."""
    retries = record.aks_rg_not_found + 1
    if retries > settings.aks_rg_not_found_retries:
        return fail(
            record,
            ErrorInfo(
                "ResourceGroupNotFound",
                f"AKS still could not see resource group {record.resource_group} after "
                f"{settings.aks_rg_not_found_retries} re-checks: {reason}",
            ),
        )
    changed = replace(
        record,
        phase=Phase.ENSURING_RESOURCE_GROUP,
        attempt=1,
        aks_rg_not_found=retries,
        operation_url=None,
        watch_started=None,
    )
    delay = settings.rg_visibility_delay_seconds
    return Outcome(
        changed,
        delay,
        f"AKS does not see resource group {record.resource_group} yet ({reason}); re-check "
        f"{retries}/{settings.aks_rg_not_found_retries} in {delay} s",
    )


def cluster_started(
    record: StatusRecord,
    cluster_id: str,
    operation_url: str | None,
    retry_after: float | None,
    now: datetime,
    settings: Settings,
) -> Outcome:
    delay = _capped_seconds(max(settings.cluster_watch_delay_seconds, retry_after or 0.0))
    changed = replace(
        record,
        phase=Phase.CREATING_CLUSTER,
        cluster_id=cluster_id or record.cluster_id,
        operation_url=operation_url,
        watch_started=record.watch_started or now,
    )
    return Outcome(changed, delay, f"AKS create started; watching in {delay} s")


def after_watch(
    record: StatusRecord,
    status: str,
    error: ErrorInfo | None,
    retry_after: float | None,
    now: datetime,
    settings: Settings,
) -> Outcome:
    """What one look at the AKS create means: done, failed, recover, time out, or look again."""
    state = status.lower()
    if state == "succeeded":
        return Outcome(
            replace(record, phase=Phase.SUCCEEDED, error=None), None, "cluster succeeded"
        )
    if state in ("failed", "canceled"):
        error = error or ErrorInfo("ClusterCreateFailed", f"the AKS create ended {status}")
        if classify(error.code) is Handling.BACK_TO_VISIBILITY:
            return back_to_visibility(record, settings, error.message)
        return fail(record, error)
    timed_out = _past_deadline(
        record,
        record.watch_started or now,
        now,
        settings.cluster_create_timeout_minutes,
        ErrorInfo(
            "ClusterCreateTimeout",
            f"the AKS create did not finish within {settings.cluster_create_timeout_minutes} "
            f"minutes; it may still be running in Azure ({record.cluster_id})",
            scope=record.cluster_id,
        ),
    )
    if timed_out is not None:
        return timed_out
    delay = _capped_seconds(max(settings.cluster_watch_delay_seconds, retry_after or 0.0))
    return Outcome(
        record, delay, f"AKS create {status or 'in progress'}; watching again in {delay} s"
    )


def created_for(cluster: ClusterView, request_id: str) -> bool:
    """Whether the app created this cluster for this very request (its request_id tag)."""
    return cluster.tags.get(REQUEST_ID_TAG) == request_id


def cluster_body(request: ClusterRequest, requester: Requester = QUEUE) -> dict[str, Any]:
    """The AKS create: system identity, one system pool, derived DNS prefix, CNI Overlay."""
    spec = request.cluster
    properties: dict[str, Any] = {
        "dnsPrefix": request.dns_prefix,
        "nodeResourceGroup": request.node_resource_group,
        "agentPoolProfiles": [
            {
                "name": "system",
                "mode": "System",
                "count": spec.node_count,
                "vmSize": spec.vm_size,
                "osType": "Linux",
                "type": "VirtualMachineScaleSets",
            }
        ],
        "networkProfile": {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "podCidr": "10.244.0.0/16",
        },
    }
    if spec.kubernetes_version:
        properties["kubernetesVersion"] = spec.kubernetes_version
    return {
        "location": request.location,
        "tags": resource_tags(request, requester),
        "identity": {"type": "SystemAssigned"},
        "properties": properties,
    }
