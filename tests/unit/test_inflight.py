"""The in-flight quota: numbered slots per requester, reclaimed once their request has ended;
and the ``"$queue"`` rule on the queue path, through the real reconcile handler."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from provisioning.contract import example_request
from provisioning.errors import ErrorInfo
from provisioning.identity import QUEUE_KEY, Requester
from provisioning.inflight import GRACE, take_slot
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.status import Phase, StatusRecord
from provisioning.views import Slot
from tests.fakes import MemoryRequesterIndex, MemoryStatusStore, World
from tests.unit.factories import SUBSCRIPTION, T0, make_record, make_request, make_settings

KEY = "0a1b2c3d-0000-4000-8000-00000000a11c"


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def test_slots_are_taken_up_to_the_limit_and_no_further() -> None:
    """With limit 2, two requests get slots; a third does not while both are live."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    first, second, third = ids(3)
    for request_id in (first, second):
        status.insert(make_record(request_id=request_id))
        assert take_slot(index, status, KEY, request_id, 2, T0)
    assert not take_slot(index, status, KEY, third, 2, T0)
    assert {slot.request_id for slot in index.slots(KEY)} == {first, second}


def test_a_finished_request_frees_its_slot_for_the_next() -> None:
    """Once one of two live requests succeeds (or fails), a new one is admitted."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    first, second, third, fourth = ids(4)
    for request_id in (first, second):
        status.insert(make_record(request_id=request_id))
        take_slot(index, status, KEY, request_id, 2, T0)
    done = status.get(first)
    assert done is not None
    status.replace(replace(done, phase=Phase.SUCCEEDED))
    assert take_slot(index, status, KEY, third, 2, T0)
    assert {slot.request_id for slot in index.slots(KEY)} == {second, third}
    failed = status.get(second)
    assert failed is not None
    status.replace(replace(failed, phase=Phase.FAILED))
    assert take_slot(index, status, KEY, fourth, 2, T0)


def test_the_same_request_again_keeps_its_one_slot() -> None:
    """A retry or redelivery of a request that holds a slot takes no second one."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    (only,) = ids(1)
    assert take_slot(index, status, KEY, only, 1, T0)
    assert take_slot(index, status, KEY, only, 1, T0)
    assert len(index.slots(KEY)) == 1


def test_a_slot_whose_record_never_appeared_is_reclaimed_after_the_grace() -> None:
    """The app died between the slot and the record: the slot counts only for GRACE."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    orphan, later = ids(2)
    assert take_slot(index, status, KEY, orphan, 1, T0)
    assert not take_slot(index, status, KEY, later, 1, T0 + GRACE)
    assert take_slot(index, status, KEY, later, 1, T0 + GRACE + timedelta(seconds=1))


class RacingIndex(MemoryRequesterIndex):
    """Another taker claims the same slot number just before each of our first ``races``."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def take(self, key: str, number: int, request_id: str, now: Any, run: int = 1) -> bool:
        if self.races:
            self.races -= 1
            super().take(key, number, f"other-{self.races}", now)
        return super().take(key, number, request_id, now, run)


def test_a_lost_race_for_a_slot_number_never_overshoots_the_limit() -> None:
    """Concurrent takers: the loser looks again and sees the partition full."""
    status = MemoryStatusStore()
    index = RacingIndex(races=1)
    (mine,) = ids(1)
    assert not take_slot(index, status, KEY, mine, 1, T0)  # the other got the only slot
    index2 = RacingIndex(races=1)
    assert take_slot(index2, status, KEY, mine, 2, T0)  # a second slot was free
    assert len(index2.slots(KEY)) == 2


# --- the queue path ------------------------------------------------------------------------


def _deliver(world: World, **overrides: Any) -> str:
    request = {
        **example_request(),
        "subscription_id": SUBSCRIPTION,
        "request_id": str(uuid.uuid4()),
        **overrides,
    }
    wire = base64.b64encode(json.dumps(request).encode())
    handle(Delivery(id=f"m-{uuid.uuid4()}", wire=wire, dequeue_count=1), world.deps)
    return str(request["request_id"])


def _error_code(world: World, request_id: str) -> str | None:
    record = world.status.get(request_id)
    assert record is not None
    return None if record.error is None else record.error.code


def test_queue_messages_are_refused_when_the_queue_rule_is_false() -> None:
    """'$queue': false: a queue message fails DirectQueueRequestsRefused before any ARM call."""
    world = World(settings=make_settings(REQUEST_POLICY='{"$queue": false}'), now=T0)
    request_id = _deliver(world)
    assert _error_code(world, request_id) == "DirectQueueRequestsRefused"
    assert not world.arm.calls
    record = world.status.get(request_id)
    assert record is not None and record.requested_by.kind == "queue"


def test_queue_messages_share_the_queue_rules_in_flight_limit() -> None:
    """'$queue' max_in_flight 1: the second live queue request fails TooManyRequestsInFlight."""
    world = World(settings=make_settings(REQUEST_POLICY='{"$queue": {"max_in_flight": 1}}'), now=T0)
    world.arm.group_state_after_create = "Creating"  # keeps the first request live
    first = _deliver(world, resource_group="rg-one")
    second = _deliver(world, resource_group="rg-two")
    assert _error_code(world, first) is None
    assert _error_code(world, second) == "TooManyRequestsInFlight"


def test_queue_messages_are_not_limited_by_default() -> None:
    """Without a '$queue' max_in_flight, queue requests take no slot at all (today's behaviour)."""
    world = World(settings=make_settings(), now=T0)
    world.arm.group_state_after_create = "Creating"
    for n in range(7):
        assert _error_code(world, _deliver(world, resource_group=f"rg-{n}")) is None
    assert not world.requesters.slots_by_key


def test_queue_requests_are_held_to_the_global_vm_sizes() -> None:
    """The default ALLOWED_VM_SIZES refuses an H100 size on the queue path: VmSizeNotAllowed."""
    world = World(settings=make_settings(), now=T0)
    request_id = _deliver(
        world, cluster={"name": "aks-big", "vm_size": "Standard_ND96isr_H100_v5", "node_count": 3}
    )
    assert _error_code(world, request_id) == "VmSizeNotAllowed"
    assert not world.arm.calls


# --- a re-drive holds a slot of the request's own requester ----------------------------------

ALICE = Requester("user", KEY, "t", "alice@contoso.example")


def _failed_of(world: World, requester: Requester) -> tuple[StatusRecord, Delivery]:
    """A request of ``requester`` whose run 1 failed, and the re-drive of its payload."""
    request = make_request()
    record = StatusRecord.accepted(
        request, advanced_by="m-run-1", now=T0, chain="c" * 32, requested_by=requester
    )
    failed = replace(record, phase=Phase.FAILED, step=3, error=ErrorInfo("QuotaExceeded", "x"))
    world.status.seed(failed)
    wire = base64.b64encode(json.dumps(request.to_dict()).encode())
    stored = world.status.get(request.request_id)
    assert stored is not None
    return stored, Delivery(id="m-redrive", wire=wire, dequeue_count=1)


def test_a_redrive_holds_a_slot_of_its_requester_not_of_the_queue() -> None:
    """The "$queue" slots are full, Alice's are not: her failed request is re-driven (run 2),
    on a slot of hers; the queue's slots are untouched."""
    world = World(
        settings=make_settings(
            REQUEST_POLICY='{"$queue": {"max_in_flight": 1}}', MAX_IN_FLIGHT_PER_REQUESTER="2"
        ),
        now=T0,
    )
    world.arm.group_state_after_create = "Creating"  # keeps requests live
    queued = _deliver(world, resource_group="rg-queue")
    failed, redrive = _failed_of(world, ALICE)

    handle(redrive, world.deps)

    after = world.status.get(failed.request_id)
    assert after is not None
    assert (after.run, after.phase.terminal, after.requested_by) == (2, False, ALICE)
    assert [s.request_id for s in world.requesters.slots(KEY)] == [failed.request_id]
    assert [s.request_id for s in world.requesters.slots(QUEUE_KEY)] == [queued]


def test_a_redrive_over_its_requesters_quota_is_refused_and_loses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MAX_IN_FLIGHT_PER_REQUESTER 1 and Alice has a live request: the re-drive is refused
    TooManyRequestsInFlight (logged under her oid, the message archived), the failed record
    stays exactly as it was, no ARM call; once her live request ends, the re-drive goes."""
    world = World(settings=make_settings(MAX_IN_FLIGHT_PER_REQUESTER="1"), now=T0)
    (live_id,) = ids(1)
    world.status.seed(make_record(request_id=live_id, requested_by=ALICE))
    assert take_slot(world.requesters, world.status, KEY, live_id, 1, T0)
    failed, redrive = _failed_of(world, ALICE)
    caplog.set_level(logging.INFO, logger="provisioning")

    handle(redrive, world.deps)

    assert world.status.get(failed.request_id) == failed
    assert world.outbox.poisoned == [redrive.wire]
    assert not world.arm.calls and not world.outbox.chained
    assert "TooManyRequestsInFlight" in caplog.text and KEY in caplog.text
    assert [s.request_id for s in world.requesters.slots(KEY)] == [live_id]

    live = world.status.get(live_id)
    assert live is not None
    world.status.replace(replace(live, phase=Phase.SUCCEEDED))
    handle(replace(redrive, id="m-redrive-again"), world.deps)
    after = world.status.get(failed.request_id)
    assert after is not None and after.run == 2 and not after.phase.terminal


@pytest.mark.parametrize(
    ("narrowed", "code"),
    [
        (
            {"ALLOWED_SUBSCRIPTIONS": "11111111-1111-4111-8111-111111111111"},
            "SubscriptionNotAllowed",
        ),
        ({"ALLOWED_LOCATIONS": "northeurope"}, "LocationNotAllowed"),
    ],
)
def test_a_redrive_is_held_to_todays_global_allow_lists(
    caplog: pytest.LogCaptureFixture, narrowed: dict[str, str], code: str
) -> None:
    """An operator narrowed an allow list since run 1 failed: the re-drive is refused with the
    list's code (logged under Alice), the record stays as it was, no slot, no ARM call. Roles
    are not judged again, but the global settings hold for every payload the app acts on."""
    world = World(settings=make_settings(**narrowed), now=T0)
    failed, redrive = _failed_of(world, ALICE)
    caplog.set_level(logging.INFO, logger="provisioning")

    handle(redrive, world.deps)

    assert world.status.get(failed.request_id) == failed
    assert world.outbox.poisoned == [redrive.wire]
    assert not world.arm.calls and not world.outbox.chained
    assert code in caplog.text and KEY in caplog.text
    assert not world.requesters.slots(KEY)


class RacingStatusStore(MemoryStatusStore):
    """Runs ``race`` once, just before the first record write that replaces a record: the
    moment between a re-drive's slot and its run-2 record."""

    def __init__(self) -> None:
        super().__init__()
        self.race: Callable[[], None] | None = None

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        race, self.race = self.race, None
        if race is not None:
            race()
        return super().replace(record)


def test_a_redrive_keeps_its_slot_against_a_concurrent_reclaimer() -> None:
    """MAX_IN_FLIGHT_PER_REQUESTER 1; Alice's failed run 1 still holds its (lazily freed) slot.
    The re-drive takes its slot; before it writes run 2 (the record still says run 1 failed),
    another request of hers finds the partition full and reclaims what looks finished. The
    re-drive's slot must survive and the other be refused: never two of hers running."""
    status = RacingStatusStore()
    world = World(settings=make_settings(MAX_IN_FLIGHT_PER_REQUESTER="1"), now=T0, status=status)
    world.arm.group_state_after_create = "Creating"  # keeps run 2 live
    failed, redrive = _failed_of(world, ALICE)
    assert take_slot(world.requesters, status, KEY, failed.request_id, 1, T0)  # run 1's slot
    world.now = T0 + timedelta(hours=1)  # run 1 failed long ago; its slot was never freed
    (other,) = ids(1)
    admitted: list[bool] = []
    status.race = lambda: admitted.append(
        take_slot(world.requesters, status, KEY, other, 1, world.now)
    )

    handle(redrive, world.deps)

    after = status.get(failed.request_id)
    assert after is not None and (after.run, after.phase.terminal) == (2, False)
    assert admitted == [False]
    assert [s.request_id for s in world.requesters.slots(KEY)] == [failed.request_id]
    assert not take_slot(world.requesters, status, KEY, other, 1, world.now)  # still refused


def _failed_run(status: MemoryStatusStore, request_id: str, run: int = 1) -> StatusRecord:
    record = make_record(request_id=request_id)
    status.seed(replace(record, run=run, phase=Phase.FAILED))
    stored = status.get(request_id)
    assert stored is not None
    return stored


def test_a_redrive_hands_its_earlier_runs_slot_to_the_new_run() -> None:
    """Run 1's slot is still there: the re-drive takes it over (no second slot, no insert);
    taking again for run 2 is "already held"."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    (request_id,) = ids(1)
    assert take_slot(index, status, KEY, request_id, 2, T0)
    _failed_run(status, request_id)
    later = T0 + timedelta(hours=1)
    assert take_slot(index, status, KEY, request_id, 2, later, run=2)
    assert take_slot(index, status, KEY, request_id, 2, later, run=2)
    assert [(s.request_id, s.run, s.taken_at) for s in index.slots(KEY)] == [(request_id, 2, later)]
    assert index.calls.count("take") == 1


class HandOverDuringReclaim(MemoryRequesterIndex):
    """Runs ``race`` once, just before the first delete: a reclaimer that read the slots and
    the records, then lost the processor."""

    def __init__(self) -> None:
        super().__init__()
        self.race: Callable[[], None] | None = None

    def free(self, key: str, slot: Slot) -> None:
        race, self.race = self.race, None
        if race is not None:
            race()
        super().free(key, slot)


def test_a_reclaimer_that_read_the_slot_before_the_hand_over_cannot_delete_it() -> None:
    """The other taker saw run 1's slot and its failed record; the re-drive hands the slot to
    run 2 before the delete: the delete misses on the ETag, and the other is refused."""
    index, status = HandOverDuringReclaim(), MemoryStatusStore()
    redriven, other = ids(2)
    assert take_slot(index, status, KEY, redriven, 1, T0)
    _failed_run(status, redriven)
    later = T0 + timedelta(hours=1)
    handed: list[bool] = []
    index.race = lambda: handed.append(take_slot(index, status, KEY, redriven, 1, later, run=2))
    assert not take_slot(index, status, KEY, other, 1, later)
    assert handed == [True]
    assert [(s.request_id, s.run) for s in index.slots(KEY)] == [(redriven, 2)]


def test_a_redrive_that_died_before_writing_its_run_frees_its_slot_after_the_grace() -> None:
    """The slot was handed to run 2 but the record still says run 1 failed: it counts for
    GRACE from the hand-over, as a slot whose record never appeared."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    redriven, other = ids(2)
    assert take_slot(index, status, KEY, redriven, 1, T0)
    _failed_run(status, redriven)
    handed_at = T0 + timedelta(hours=1)
    assert take_slot(index, status, KEY, redriven, 1, handed_at, run=2)
    assert not take_slot(index, status, KEY, other, 1, handed_at + GRACE)
    assert take_slot(index, status, KEY, other, 1, handed_at + GRACE + timedelta(seconds=1))


def test_a_slot_of_an_earlier_run_counts_while_the_request_runs() -> None:
    """A run-1 slot (a row written before runs were recorded) of a request now live at run 2
    still counts; once run 2 fails, it is reclaimed as any other."""
    index, status = MemoryRequesterIndex(), MemoryStatusStore()
    redriven, other = ids(2)
    assert take_slot(index, status, KEY, redriven, 1, T0)
    failed = _failed_run(status, redriven, run=2)
    status.replace(replace(failed, phase=Phase.CREATING_CLUSTER))
    assert not take_slot(index, status, KEY, other, 1, T0 + timedelta(hours=1))
    live = status.get(redriven)
    assert live is not None
    status.replace(replace(live, phase=Phase.FAILED))
    assert take_slot(index, status, KEY, other, 1, T0 + timedelta(hours=1))


def test_a_readmitted_queue_request_keeps_its_slot_against_a_concurrent_reclaimer() -> None:
    """The "$queue" rule's max_in_flight 1; a request refused on arrival (a failed run-1 record,
    never admitted) is sent again and admitted: it takes a slot, and before its run-2 record is
    written another queue request finds the slots full. The record still says failed, but the
    slot is the new run's: it survives, and the other is refused."""
    status = RacingStatusStore()
    world = World(
        settings=make_settings(REQUEST_POLICY='{"$queue": {"max_in_flight": 1}}'),
        now=T0,
        status=status,
    )
    world.arm.group_state_after_create = "Creating"
    request = make_request()
    wire = base64.b64encode(json.dumps(request.to_dict()).encode())
    refused = ErrorInfo("SubscriptionNotAllowed", "x")
    status.seed(
        StatusRecord.rejected(
            request, refused, wire=wire, advanced_by="m-1", now=T0, max_attempts=5
        )
    )
    (other,) = ids(1)
    admitted: list[bool] = []
    status.race = lambda: admitted.append(
        take_slot(world.requesters, status, QUEUE_KEY, other, 1, world.now)
    )

    handle(Delivery(id="m-again", wire=wire, dequeue_count=1), world.deps)

    after = status.get(request.request_id)
    assert after is not None and (after.run, after.phase.terminal) == (2, False)
    assert admitted == [False]
    assert [s.request_id for s in world.requesters.slots(QUEUE_KEY)] == [request.request_id]
