"""Storage errors are transient (issue 14, problem 2): the message is deferred with back-off
through its pop receipt, the step keeps its budget, and an ambiguous commit is finished by the
redelivery. Pure: the shared fakes, a storage outage switched on and off around them."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from provisioning.contract import example_request
from provisioning.deferral import MAX_DEQUEUE_COUNT, backoff
from provisioning.errors import ErrorInfo, StorageUnavailable
from provisioning.messages import Delivery
from provisioning.poison import handle_poison
from provisioning.reconcile import handle
from provisioning.status import Phase, StatusRecord
from tests.fakes import MemoryLease, MemoryStatusStore, World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_settings

BODY = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
SPA = Delivery("spa", base64.b64encode(json.dumps(BODY).encode()), 1, pop_receipt="r1")
DOWN = StorageUnavailable(ErrorInfo("ServerBusy", "the table service is busy"))


class OutageStore(MemoryStatusStore):
    """The status table, unreachable while ``down``; ``lose_answers`` stores the write and then
    fails (the ambiguous commit: it landed, its answer did not)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lose_answers = False

    def _check(self) -> None:
        if self.down:
            raise DOWN

    def get(self, request_id: str) -> StatusRecord | None:
        self._check()
        return super().get(request_id)

    def insert(self, record: StatusRecord) -> StatusRecord | None:
        self._check()
        return super().insert(record)

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        self._check()
        stored = super().replace(record)
        if self.lose_answers and stored is not None:
            raise DOWN
        return stored


def _world(*, down: bool = False) -> tuple[World, OutageStore, MemoryLease]:
    """The fakes with a status table that is ``down`` (every call fails) or up."""
    world = World(make_settings(STORAGE_RETRY_SECONDS="60"), T0)
    world.status = store = OutageStore()
    store.down = down
    lease = MemoryLease()
    return world, store, lease


def test_backoff_spreads_the_deliveries_past_a_ten_minute_outage() -> None:
    """60, 120, 240, 480 s: the fifth delivery comes 15 minutes after the first."""
    delays = [backoff(n, 60) for n in range(1, MAX_DEQUEUE_COUNT)]
    assert delays == [60, 120, 240, 480]
    assert sum(delays) > 10 * 60
    assert backoff(40, 60) == 15 * 60  # capped, no overflow


@pytest.mark.parametrize("dequeue_count", [1, 2, 3, 4])
def test_a_table_outage_defers_the_message_instead_of_raising(dequeue_count: int) -> None:
    """The insert cannot be written: no exception for the host, the message comes back later."""
    world, _, lease = _world(down=True)
    handle(replace(SPA, dequeue_count=dequeue_count), replace(world.deps, lease=lease))
    assert lease.deferred == [("spa", backoff(dequeue_count, 60))]
    assert not world.arm.calls


def test_the_last_delivery_is_raised_for_the_host_to_poison() -> None:
    """On the fifth delivery the budget is spent: raised, so the poison trigger decides."""
    world, _, lease = _world(down=True)
    with pytest.raises(StorageUnavailable):
        handle(replace(SPA, dequeue_count=MAX_DEQUEUE_COUNT), replace(world.deps, lease=lease))
    assert not lease.deferred


def test_after_the_outage_the_request_ends_as_it_would_have() -> None:
    """Deferred through an outage, then delivered again: the run goes on with its budgets."""
    world, store, lease = _world()
    deps = replace(world.deps, lease=lease)
    store.down = True
    handle(SPA, deps)
    store.down = False
    handle(replace(SPA, dequeue_count=2), deps)
    record = store.get(REQUEST_ID)
    assert record is not None and record.phase is Phase.CREATING_CLUSTER
    assert (record.attempt, record.transient_failures) == (1, 0)  # no budget spent


def test_an_ambiguous_commit_is_finished_by_the_redelivery() -> None:
    """The commit landed but its answer was lost: the same message, deferred, comes back and
    sends the hand-off the first delivery could not; no second AKS create."""
    world, store, lease = _world()
    deps = replace(world.deps, lease=lease)
    store.lose_answers = True
    handle(SPA, deps)
    assert lease.deferred == [("spa", 60)]
    assert not world.outbox.chained  # the step stopped at its commit
    committed = store.get(REQUEST_ID)
    assert committed is not None and committed.advanced_by == "spa"
    store.lose_answers = False
    handle(replace(SPA, dequeue_count=2), deps)
    assert [m.step for m, _ in world.outbox.chained] == [committed.step]
    assert world.arm.calls.count("start_cluster_create") == 1


def test_the_poison_trigger_defers_too() -> None:
    """A storage outage under the poison trigger defers its message: no -poison-poison."""
    world, store, lease = _world(down=True)
    handle_poison(
        SPA,
        store,
        world.archive,
        "q-poison",
        lease,
        60,
        max_attempts=world.settings.rg_visibility_attempts,
    )
    assert lease.deferred == [("spa", 60)]
    assert not world.archive.rows


def test_without_a_pop_receipt_the_error_is_raised() -> None:
    """No receipt (nothing to defer): raised as before, the host retries the message."""
    world, _, lease = _world(down=True)
    with pytest.raises(StorageUnavailable):
        handle(replace(SPA, pop_receipt=None), replace(world.deps, lease=lease))
