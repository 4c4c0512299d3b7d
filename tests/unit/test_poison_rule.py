"""The poison rule (issue 14, problem 1): a poisoned message ends a run only when it is that
run's current baton. Each case the review reproduced, through the real handlers and the fakes."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

from provisioning.contract import example_request, parse_request
from provisioning.errors import ErrorInfo
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.status import Phase, StatusRecord
from tests.fakes import World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_settings

BODY = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
SPA_WIRE = base64.b64encode(json.dumps(BODY).encode())


def _world() -> World:
    world = World(make_settings(), T0)
    world.arm.group_state_after_create = "Creating"  # not visible yet: the run waits, live
    return world


def _record(world: World) -> StatusRecord:
    record = world.status.get(REQUEST_ID)
    assert record is not None
    return record


def _poison(world: World, delivery: Delivery) -> None:
    world.poison(replace(delivery, dequeue_count=1))


def test_a_done_steps_message_poisoned_later_leaves_the_live_run_alone() -> None:
    """(a) Step 1's message did its step; its host died before deleting it, five times over."""
    world = _world()
    handle(Delivery("spa", SPA_WIRE, 1), world.deps)
    step_one = world.outbox.chain_delivery(message_id="m-step-1")
    handle(step_one, world.deps)  # step 1 done and committed: the record is at step 2
    live = _record(world)
    assert live.step == 2 and not live.phase.terminal
    _poison(world, step_one)
    assert _record(world) == live
    [row] = world.archive.rows
    assert row["reason"].startswith("Stale")


def test_a_stale_payload_of_run_1_leaves_run_2_alone() -> None:
    """(b) Run 1's payload is archived after the user re-drove it: run 2 goes on."""
    world = _world()
    failed = StatusRecord.rejected(
        parse_request(json.dumps(BODY)),
        ErrorInfo("QuotaExceeded", "no cores"),
        wire=SPA_WIRE,
        advanced_by="spa-run-1",
        now=T0,
        max_attempts=world.settings.rg_visibility_attempts,
    )
    world.status.seed(replace(failed, chain="run-1"))
    handle(Delivery("spa-run-2", SPA_WIRE, 1), world.deps)  # the re-drive: run 2
    live = _record(world)
    assert (live.run, live.phase) == (2, Phase.ENSURING_RESOURCE_GROUP)
    _poison(world, Delivery("spa-run-1", SPA_WIRE, 1))
    assert _record(world) == live


def test_a_duplicate_payload_poisoned_leaves_the_live_run_alone() -> None:
    """(c) A second copy of a live request's payload failed its own deliveries."""
    world = _world()
    handle(Delivery("spa", SPA_WIRE, 1), world.deps)
    live = _record(world)
    _poison(world, Delivery("spa-copy", SPA_WIRE, 1))
    assert _record(world) == live
    [row] = world.archive.rows
    assert row["reason"].startswith("Stale")


def test_the_current_baton_poisoned_ends_its_run() -> None:
    """The run's current message, its step not done, poisoned: the run ends PoisonMessage."""
    world = _world()
    handle(Delivery("spa", SPA_WIRE, 1), world.deps)
    live = _record(world)
    _poison(world, world.outbox.chain_delivery(message_id="m-step-1"))
    ended = _record(world)
    assert ended.phase is Phase.FAILED and ended.error is not None
    assert ended.error.code == "PoisonMessage"
    assert (ended.run, ended.chain, ended.step) == (live.run, live.chain, live.step + 1)


def test_a_payload_no_run_accepted_is_recorded_failed() -> None:
    """A payload the host poisoned before the function ever stored it: failed, readable, with
    the attempts an accepted record gets from the settings (not the dataclass default)."""
    world = World(make_settings(RG_VISIBILITY_ATTEMPTS="7"), T0)
    _poison(world, Delivery("spa", SPA_WIRE, 1))
    record = _record(world)
    assert record.phase is Phase.FAILED and record.error is not None
    assert record.error.code == "PoisonMessage"
    assert record.max_attempts == 7
