"""Admission of a new request for a requester: their rule, then their in-flight quota.

The same checks for both doors: the HTTP front door (a verified caller, the rule of their app
roles) and a message dropped on the queue (the ``"$queue"`` rule, all such messages together).
Only a request no run ever admitted is judged; a re-drive of a failed run is not judged again,
but holds an in-flight slot of the request's own requester (``admit_redrive``).
"""

from __future__ import annotations

from datetime import datetime

from provisioning.contract import ClusterRequest
from provisioning.decisions import policy_error
from provisioning.errors import ErrorInfo, TerminalError
from provisioning.identity import QUEUE_KEY
from provisioning.inflight import take_slot
from provisioning.policy import Limits, limits_for_queue, limits_for_redrive
from provisioning.ports import RequesterIndex, StatusStore
from provisioning.settings import Settings
from provisioning.status import StatusRecord

ALL_KEY = "$all"  # the listing of every request, for Provisioning.ReadAll


class TooManyRequestsInFlight(TerminalError):
    """The requester's in-flight quota is full (HTTP 429; a failed status on the queue path)."""


class DirectQueueRequestsRefused(TerminalError):
    """``"$queue": false``: requests must come through the HTTP front door."""


def admit(
    request: ClusterRequest,
    limits: Limits,
    key: str,
    *,
    settings: Settings,
    requesters: RequesterIndex,
    status: StatusStore,
    now: datetime,
    run: int = 1,
) -> TerminalError | None:
    """Why run ``run`` of ``request`` may not start for the requester ``key`` under ``limits``,
    or None (and then it holds one of the requester's in-flight slots)."""
    refused = policy_error(request, settings, limits)
    if refused is not None:
        return refused
    return hold_slot(
        limits, key, request.request_id, requesters=requesters, status=status, now=now, run=run
    )


def admit_redrive(
    record: StatusRecord,
    request: ClusterRequest,
    *,
    settings: Settings,
    requesters: RequesterIndex,
    status: StatusStore,
    now: datetime,
) -> TerminalError | None:
    """A new run of an admitted request that failed. Its requester's roles (or the ``"$queue"``
    rule) are not judged again: accepted means accepted. But the global settings hold for every
    payload the app acts on, so an allow list an operator narrowed since still refuses it; and
    the run is its requester's work, so it holds one of their slots."""
    refused = policy_error(request, settings)
    if refused is not None:
        return refused
    requester = record.requested_by
    limits = limits_for_redrive(requester, settings.request_policy, settings.global_limits)
    return hold_slot(
        limits,
        requester.key,
        record.request_id,
        requesters=requesters,
        status=status,
        now=now,
        run=record.run + 1,
    )


def hold_slot(
    limits: Limits,
    key: str,
    request_id: str,
    *,
    requesters: RequesterIndex,
    status: StatusStore,
    now: datetime,
    run: int = 1,
) -> TooManyRequestsInFlight | None:
    """None once run ``run`` of ``request_id`` holds one of ``key``'s in-flight slots (or none
    is needed)."""
    limit = limits.max_in_flight
    if limit is None or take_slot(requesters, status, key, request_id, limit, now, run):
        return None
    who = "direct queue messages together" if key == QUEUE_KEY else "this requester"
    return TooManyRequestsInFlight(
        ErrorInfo(
            "TooManyRequestsInFlight",
            f"{limit} requests of {who} are already in flight (rule: {limits.source}); "
            "try again once one has succeeded or failed",
        )
    )


def queue_admits_outright(request: ClusterRequest, settings: Settings) -> bool:
    """Whether the ``"$queue"`` rule admits ``request`` with no I/O: it allows it and sets no
    quota. Only then may a queue message insert its record before knowing whether it is new."""
    limits = limits_for_queue(settings.request_policy, settings.global_limits)
    return (
        limits is not None
        and limits.max_in_flight is None
        and policy_error(request, settings, limits) is None
    )


def admit_queue_message(
    request: ClusterRequest,
    *,
    settings: Settings,
    requesters: RequesterIndex,
    status: StatusStore,
    now: datetime,
    run: int = 1,
) -> TerminalError | None:
    """The ``"$queue"`` rule for run ``run`` of a request dropped directly on the queue (run 2
    or later when a request refused on arrival is sent again)."""
    limits = limits_for_queue(settings.request_policy, settings.global_limits)
    if limits is None:
        return DirectQueueRequestsRefused(
            ErrorInfo(
                "DirectQueueRequestsRefused",
                'REQUEST_POLICY sets "$queue": false: requests must be sent to '
                "POST /api/provisioning with an Entra ID token",
            )
        )
    return admit(
        request,
        limits,
        QUEUE_KEY,
        settings=settings,
        requesters=requesters,
        status=status,
        now=now,
        run=run,
    )
