"""Accepted means accepted (issue 14, problem 6): a later step reads the stored payload back by
its shape only, so a contract rule tightened between two steps applies to new requests only."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest

from provisioning.contract import MAX_TAG_VALUE, example_request, parse_request, read_accepted
from provisioning.errors import InvalidRequest
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.status import Phase, StatusRecord
from tests.fakes import World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_settings

BODY = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
# What an earlier contract accepted and today's refuses: a tag value past today's 256 limit.
LOOSER = {**BODY, "tags": {"note": "x" * (MAX_TAG_VALUE + 44)}}


def _first_step(world: World) -> StatusRecord:
    """The SPA's message ran step 0 under the contract of the day it arrived."""
    world.arm.group_state_after_create = "Creating"  # not visible yet: the run waits a step
    handle(Delivery("spa", base64.b64encode(json.dumps(BODY).encode()), 1), world.deps)
    record = world.status.get(REQUEST_ID)
    assert record is not None and not record.phase.terminal
    return record


def test_a_rule_tightened_between_two_steps_does_not_touch_the_running_request() -> None:
    """The stored payload breaks today's tag rule: the next step runs on, nothing is raised."""
    world = World(make_settings(), T0)
    record = _first_step(world)
    with pytest.raises(InvalidRequest):
        parse_request(json.dumps(LOOSER))  # today's contract: refused
    looser = StatusRecord.accepted(parse_request(json.dumps(BODY)), advanced_by="x", now=T0)
    stored_then = json.dumps({**json.loads(looser.request_json), "tags": LOOSER["tags"]})
    world.status.records[REQUEST_ID] = replace(record, request_json=stored_then)
    world.arm.group_state_after_create = "Succeeded"
    world.arm.groups[record.resource_group] = replace(
        world.arm.groups[record.resource_group], state="Succeeded"
    )
    handle(world.outbox.chain_delivery(message_id="m-step-1"), world.deps)
    after = world.status.get(REQUEST_ID)
    assert after is not None and after.phase is Phase.CREATING_CLUSTER, after
    assert world.arm.calls.count("start_cluster_create") == 1


def test_a_lower_max_node_count_applies_to_new_requests_only() -> None:
    """MAX_NODE_COUNT lowered between two steps: the running request keeps its node count."""
    world = World(make_settings(MAX_NODE_COUNT="50"), T0)
    _first_step(world)
    world.settings = make_settings(MAX_NODE_COUNT="1")
    record = world.status.get(REQUEST_ID)
    assert record is not None
    world.arm.groups[record.resource_group] = replace(
        world.arm.groups[record.resource_group], state="Succeeded"
    )
    handle(world.outbox.chain_delivery(message_id="m-step-1"), world.deps)
    after = world.status.get(REQUEST_ID)
    assert after is not None and after.phase is Phase.CREATING_CLUSTER


def test_read_accepted_checks_the_shape_only() -> None:
    """The stored form reads back equal; wrong types are named; rules are not applied."""
    request = parse_request(json.dumps(BODY))
    stored = StatusRecord.accepted(request, advanced_by="x", now=T0).request_json
    assert read_accepted(stored) == request
    assert read_accepted(json.dumps({**json.loads(stored), "tags": LOOSER["tags"]})).tags
    with pytest.raises(InvalidRequest, match=r"cluster\.node_count"):
        read_accepted(json.dumps({**json.loads(stored), "cluster": {"name": "a", "vm_size": "b"}}))
    with pytest.raises(InvalidRequest):
        read_accepted("[]")


def test_a_damaged_stored_payload_ends_the_run_instead_of_crash_looping() -> None:
    """A record whose payload is not even the stored shape: failed with a reason, not raised."""
    world = World(make_settings(), T0)
    record = _first_step(world)
    world.status.records[REQUEST_ID] = replace(record, request_json="{}")
    handle(world.outbox.chain_delivery(message_id="m-step-1"), world.deps)
    after = world.status.get(REQUEST_ID)
    assert after is not None and after.phase is Phase.FAILED and after.error is not None
    assert after.error.code == "StoredRequestUnreadable"
