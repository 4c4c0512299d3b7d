"""One invocation of the provisioning queue trigger: one reconcile step for one request.

The status record is the referee. A message may act only when it carries the record's current
(chain, step); the SPA's own message acts only for the step its insert created. Each step ends by
writing the record with its ETag (so of two forked chains only one goes on) and, unless the
request has ended, by sending the next chain message with the step's delay.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from provisioning.admission import (
    ALL_KEY,
    admit_queue_message,
    admit_redrive,
    queue_admits_outright,
)
from provisioning.contract import (
    ClusterRequest,
    parse_request,
    read_accepted,
    readable_request_id,
)
from provisioning.decisions import (
    Arrival,
    Outcome,
    after_check,
    after_transient,
    after_watch,
    arrival,
    back_to_visibility,
    cluster_body,
    cluster_started,
    created_for,
    fail,
    ownership_error,
    resource_tags,
)
from provisioning.deferral import defer_or_raise
from provisioning.errors import (
    ArmCallFailed,
    ErrorInfo,
    Handling,
    InvalidRequest,
    StorageUnavailable,
    TerminalError,
    TransientError,
)
from provisioning.identity import QUEUE_KEY
from provisioning.messages import (
    ChainMessage,
    Delivery,
    new_chain_token,
    parse_chain_message,
)
from provisioning.ports import Arm, Lease, Outbox, RequesterIndex, StatusStore
from provisioning.settings import Settings
from provisioning.status import Phase, StatusRecord
from provisioning.table_limits import TooLargeToStore
from provisioning.texts import LOG_MESSAGE_LIMIT, log_text
from provisioning.views import GroupView

log = logging.getLogger("provisioning")


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    arm: Arm
    status: StatusStore
    outbox: Outbox
    clock: Callable[[], datetime]
    jitter: Callable[[], float]
    requesters: RequesterIndex
    lease: Lease | None = None  # the delivered message, for deferring it (``deferral``)


def handle(delivery: Delivery, deps: Deps) -> None:
    """One invocation; a storage failure under it defers the message instead of failing."""
    try:
        _handle(delivery, deps)
    except StorageUnavailable as error:
        defer_or_raise(delivery, error, deps.lease, deps.settings.storage_retry_seconds)


def _handle(delivery: Delivery, deps: Deps) -> None:
    try:
        chain = parse_chain_message(_json_or_none(delivery.body))
    except InvalidRequest as exc:  # not base64, or a malformed chain message
        _reject(delivery, exc, exc.request_id, deps)
        return
    if chain is None:
        _handle_request(delivery, deps)
    else:
        _handle_chain(chain, delivery, deps)


def _json_or_none(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for the parser
        return None


def _handle_request(delivery: Delivery, deps: Deps) -> None:
    try:
        request = parse_request(delivery.body, max_node_count=deps.settings.max_node_count)
    except InvalidRequest as exc:
        _reject(delivery, exc, exc.request_id or readable_request_id(delivery.body), deps)
        return
    # Only a new request is judged by the "$queue" rule. When the rule admits it with no I/O,
    # insert first: a new request (the common case) costs one table call, not a read and then
    # an insert; a duplicate, redelivery or re-drive reads the record after the conflict.
    # Otherwise (refused, or a quota slot to take) read first, to know whether it is new.
    if queue_admits_outright(request, deps.settings):
        _start_new(request, delivery, deps)
        return
    record = deps.status.get(request.request_id)
    if record is not None:
        _arrived(record, request, delivery, deps)
        return
    refused = _admit_queue_message(request, deps)
    if refused is not None:
        _reject(delivery, refused, request.request_id, deps, request)
    else:
        _start_new(request, delivery, deps)


def _start_new(request: ClusterRequest, delivery: Delivery, deps: Deps) -> None:
    """Insert an admitted request's first record and run its first step. When a record for its
    request_id exists already (a duplicate, a redelivery, a re-drive, or a concurrent delivery
    that inserted first), the payload is an arrival at that record instead."""
    try:
        stored = deps.status.insert(_new_record(request, delivery, deps, run=1))
    except TooLargeToStore as exc:  # never for a contract-valid body; refused, not a 400 loop
        _reject(delivery, exc, request.request_id, deps)
        return
    if stored is None:
        record = deps.status.get(request.request_id)
        if record is None:
            raise RuntimeError(f"status record {request.request_id} vanished after a conflict")
        _arrived(record, request, delivery, deps)
        return
    deps.requesters.note(ALL_KEY, stored.request_id, stored.created_at)
    _run_step(stored, request, delivery, deps)


def _arrived(record: StatusRecord, request: ClusterRequest, delivery: Delivery, deps: Deps) -> None:
    """A payload for a request that has a record: what it is (``arrival``) says what it does."""
    kind = arrival(record, request.fingerprint(), delivery.id)
    if kind is Arrival.CONFLICT:
        conflict = ErrorInfo("RequestIdConflict", "another payload holds this request_id")
        _turn_away(record, "rejected", conflict, delivery, deps)
    elif kind is Arrival.RESUME:
        _run_step(record, request, delivery, deps)
    elif kind is Arrival.REDELIVERED:
        _redelivered(record, delivery, deps)
    elif kind is Arrival.DUPLICATE:
        _log(record, "duplicate request ignored: this request_id is already " + record.phase.value)
    elif kind is Arrival.READMIT:  # refused on arrival before: judged as the new request it is
        refused = _admit_queue_message(request, deps, run=record.run + 1)
        if refused is None:
            _redrive(record, request, delivery, deps)
        else:
            _reject(delivery, refused, request.request_id, deps, request)
    else:  # a re-drive: roles not judged again; global settings, and a slot of its requester
        refused = admit_redrive(
            record,
            request,
            settings=deps.settings,
            requesters=deps.requesters,
            status=deps.status,
            now=deps.clock(),
        )
        if refused is None:
            _redrive(record, request, delivery, deps)
        else:
            _turn_away(record, "re-drive refused", refused.info, delivery, deps)


def _admit_queue_message(request: ClusterRequest, deps: Deps, run: int = 1) -> TerminalError | None:
    return admit_queue_message(
        request,
        settings=deps.settings,
        requesters=deps.requesters,
        status=deps.status,
        now=deps.clock(),
        run=run,
    )


def _redrive(record: StatusRecord, request: ClusterRequest, delivery: Delivery, deps: Deps) -> None:
    """A new run of a failed request, with fresh budgets; still its requester's request."""
    fresh = _new_record(request, delivery, deps, run=record.run + 1)
    redriven = deps.status.replace(
        replace(
            fresh,
            created_at=record.created_at,
            etag=record.etag,
            resource_group_id=record.resource_group_id,
            cluster_id=record.cluster_id,
            requested_by=record.requested_by,
        )
    )
    if redriven is None:
        _log(record, "re-drive lost a race with another delivery; stopping")
        return
    _log(redriven, f"re-driven as run {redriven.run}")
    _run_step(redriven, request, delivery, deps)


def _turn_away(
    record: StatusRecord, what: str, info: ErrorInfo, delivery: Delivery, deps: Deps
) -> None:
    """Refuse a payload whose request has a record: the record stays as it was; the reason is
    logged under its requester and the message goes to the poison archive."""
    _log(
        record,
        f"{what}: {info.code}: {info.message}; the record is left as it was",
        logging.ERROR,
        info.code,
    )
    deps.outbox.send_poison(delivery.wire)


def _handle_chain(chain: ChainMessage, delivery: Delivery, deps: Deps) -> None:
    record = deps.status.get(chain.request_id)
    if record is not None and record.chain == chain.chain and record.run == chain.run:
        if record.step == chain.step and not record.phase.terminal:
            try:
                request = read_accepted(record.request_json)  # its shape, not today's rules
            except InvalidRequest as exc:  # a damaged record: end the run, do not crash-loop
                unreadable = ErrorInfo("StoredRequestUnreadable", exc.info.message)
                _commit(record, fail(record, unreadable), delivery, deps, deps.clock())
                return
            _run_step(record, request, delivery, deps)
            return
        if record.step == chain.step + 1 and record.advanced_by == delivery.id:
            _redelivered(record, delivery, deps)
            return
    requester = record.requested_by.key if record is not None else "unknown"
    log.info(
        "request %s: stale message dropped (run %s, step %s, requested by %s): another "
        "delivery moved on",
        chain.request_id,
        chain.run,
        chain.step,
        requester,
        extra={"request_id": chain.request_id, "requested_by": requester, "outcome": "stale"},
    )


def _new_record(request: ClusterRequest, delivery: Delivery, deps: Deps, run: int) -> StatusRecord:
    return StatusRecord.accepted(
        request,
        advanced_by=delivery.id,
        now=deps.clock(),
        run=run,
        chain=new_chain_token(),
        max_attempts=deps.settings.rg_visibility_attempts,
    )


def _run_step(
    record: StatusRecord, request: ClusterRequest, delivery: Delivery, deps: Deps
) -> None:
    now = deps.clock()
    try:
        try:
            if record.phase is Phase.ENSURING_RESOURCE_GROUP:
                outcome = _ensure_group(record, request, deps, now)
            else:
                outcome = _watch(record, deps, now)
        except ArmCallFailed as exc:
            raise exc.as_error() from exc
    except TransientError as exc:
        outcome = after_transient(record, exc.info, exc.retry_after, deps.settings, deps.jitter())
    except TerminalError as exc:
        outcome = fail(record, exc.info)
    _commit(record, outcome, delivery, deps, now)


def _ensure_group(
    record: StatusRecord, request: ClusterRequest, deps: Deps, now: datetime
) -> Outcome:
    arm, sub, name = deps.arm, record.subscription_id, record.resource_group
    tags = resource_tags(request, record.requested_by)
    group = arm.get_group(sub, name)
    if not group.exists and not record.rg_created:
        try:
            created = arm.create_group(sub, name, request.location, tags)
        except ArmCallFailed as exc:
            if exc.handling is not Handling.GROUP_BEING_DELETED:
                raise
            group = GroupView(exists=True, state="Deleting")
        else:
            record = replace(record, rg_created=True, resource_group_id=created.id)
            group = arm.get_group(sub, name)  # the one visibility check of this step
    elif group.exists and not record.rg_created:
        refused = ownership_error(group, deps.settings, record.requested_by)
        if refused is not None:
            raise refused
    if group.id:
        record = replace(record, resource_group_id=group.id)
    waiting = after_check(record, group, now, deps.settings)
    if waiting is not None:
        return waiting
    return _start_cluster(record, request, deps, now)


def _start_cluster(
    record: StatusRecord, request: ClusterRequest, deps: Deps, now: datetime
) -> Outcome:
    arm, settings = deps.arm, deps.settings
    try:
        started = arm.start_cluster_create(
            record.cluster_ref, cluster_body(request, record.requested_by), create_only=True
        )
    except ArmCallFailed as exc:
        handling = exc.handling
        if handling is Handling.EXISTING_CLUSTER:
            return _existing_cluster(record, request, deps, now)
        if handling is Handling.CLUSTER_BUSY:
            cluster = arm.get_cluster(record.cluster_ref)
            if cluster and created_for(cluster, record.request_id) and cluster.state == "Creating":
                return cluster_started(record, cluster.id, None, None, now, settings)
            raise TransientError(exc.info, exc.retry_after) from exc
        if handling is Handling.BACK_TO_VISIBILITY:
            return back_to_visibility(record, settings, exc.info.message)
        if handling is Handling.REGISTER_PROVIDER and not record.registration_requested:
            arm.register_provider(record.subscription_id)
            delay = settings.provider_registration_delay_seconds
            return Outcome(
                replace(record, registration_requested=True),
                delay,
                "Microsoft.ContainerService is not registered; registration requested, "
                f"trying again in {delay} s",
            )
        raise
    return cluster_started(
        record, started.cluster_id, started.operation_url, started.retry_after, now, settings
    )


def _existing_cluster(
    record: StatusRecord, request: ClusterRequest, deps: Deps, now: datetime
) -> Outcome:
    """412 on a create-only PUT: ours (carry on, or re-create after our own failure) or not."""
    cluster = deps.arm.get_cluster(record.cluster_ref)
    if cluster is None:
        raise TransientError(ErrorInfo("ResourceNotFound", "the cluster vanished after a 412"))
    if not created_for(cluster, record.request_id):
        raise TerminalError(
            ErrorInfo(
                "ClusterAlreadyExists",
                f"cluster {record.cluster_name} already exists and was not created for this "
                "request",
                scope=cluster.id,
            )
        )
    if cluster.state == "Failed":
        started = deps.arm.start_cluster_create(
            record.cluster_ref, cluster_body(request, record.requested_by), create_only=False
        )
        return cluster_started(
            record,
            started.cluster_id,
            started.operation_url,
            started.retry_after,
            now,
            deps.settings,
        )
    return cluster_started(record, cluster.id, None, None, now, deps.settings)


def _watch(record: StatusRecord, deps: Deps, now: datetime) -> Outcome:
    arm, settings = deps.arm, deps.settings
    if record.operation_url:
        operation = arm.get_operation(record.subscription_id, record.operation_url)
        return after_watch(
            record, operation.status, operation.error, operation.retry_after, now, settings
        )
    try:
        cluster = arm.get_cluster(record.cluster_ref)
    except ArmCallFailed as exc:
        if exc.handling is Handling.BACK_TO_VISIBILITY:
            return back_to_visibility(record, settings, exc.info.message)
        raise
    if cluster is None:
        missing = ErrorInfo("ResourceNotFound", f"cluster {record.cluster_name} is gone")
        return after_watch(record, "Failed", missing, None, now, settings)
    error = None
    if cluster.state == "Failed":
        error = ErrorInfo("ClusterCreateFailed", "the cluster's provisioningState is Failed")
    return after_watch(record, cluster.state or "", error, None, now, settings)


def _commit(
    old: StatusRecord, outcome: Outcome, delivery: Delivery, deps: Deps, now: datetime
) -> None:
    record = replace(
        outcome.record,
        step=old.step + 1,
        advanced_by=delivery.id,
        next_delay=outcome.delay,
        updated_at=now,
        etag=old.etag,
    )
    stored = deps.status.replace(record)
    if stored is None:
        _log(old, "another delivery advanced this request first; this chain stops")
        return
    if stored.phase is Phase.FAILED:
        code = stored.error.code if stored.error else None
        _log(stored, outcome.summary, logging.ERROR, code)
        deps.outbox.send_poison(delivery.wire)
        return
    _log(stored, outcome.summary)
    if outcome.delay is not None and not stored.phase.terminal:
        deps.outbox.send_chain(stored.next_message(), outcome.delay)


def _redelivered(record: StatusRecord, delivery: Delivery, deps: Deps) -> None:
    """This message made the last write but its invocation died: finish what it left."""
    if record.phase is Phase.FAILED:
        deps.outbox.send_poison(delivery.wire)
    elif not record.phase.terminal and record.next_delay is not None:
        deps.outbox.send_chain(record.next_message(), record.next_delay)
    _log(record, "redelivered after a crash; finished the step's hand-off")


def _reject(
    delivery: Delivery,
    error: TerminalError,
    request_id: str | None,
    deps: Deps,
    request: ClusterRequest | None = None,
) -> None:
    """Refuse a message once: a readable status if none exists yet, a log line, the poison queue.

    A valid but disallowed ``request`` is recorded as accepted-then-failed, so that sending the
    same payload again once the settings allow it is a re-drive, not a RequestIdConflict.
    """
    info = error.info
    subjects = [s for s in (request, request_id) if s]
    for subject in subjects:
        rejected = StatusRecord.rejected(
            subject,
            info,
            wire=delivery.wire,
            advanced_by=delivery.id,
            now=deps.clock(),
            max_attempts=deps.settings.rg_visibility_attempts,
        )
        try:
            deps.status.insert(rejected)
            break
        except TooLargeToStore:
            continue  # then the bare failed record (no payload), which always fits
    log.error(
        "request %s rejected: %s: %s (requested by %s)",
        log_text(request_id or "(unreadable)"),
        info.code,
        log_text(info.message, LOG_MESSAGE_LIMIT),
        QUEUE_KEY,
        extra={
            "request_id": request_id,
            "requested_by": QUEUE_KEY,
            "outcome": "rejected",
            "error_code": info.code,
        },
    )
    deps.outbox.send_poison(delivery.wire)


def _log(
    record: StatusRecord, summary: str, level: int = logging.INFO, code: str | None = None
) -> None:
    # The Python worker forwards only a record's text to the Portal, so the fields are in it.
    log.log(
        level,
        "request %s [%s, attempt %d/%d, requested by %s]: %s",
        record.request_id,
        record.phase.value,
        record.attempt,
        record.max_attempts,
        record.requested_by.key,
        log_text(summary, LOG_MESSAGE_LIMIT),
        extra={
            "request_id": record.request_id,
            "requested_by": record.requested_by.key,
            "phase": record.phase.value,
            "attempt": record.attempt,
            "outcome": summary,
            "error_code": code,
        },
    )
