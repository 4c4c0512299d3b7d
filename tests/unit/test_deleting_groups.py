"""A resource group being deleted is waited out whatever its tags (issue 14, problem 4)."""

from __future__ import annotations

import base64
import json

import pytest

from provisioning.contract import example_request
from provisioning.decisions import ownership_error
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.status import Phase
from tests.fakes import World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, group, make_settings

SETTINGS = make_settings(RG_DELETING_DELAY_SECONDS="30")


@pytest.mark.parametrize("tags", [{}, {"owner": "someone"}, {"managed-by": "aks-provisioner"}])
def test_a_deleting_group_is_never_judged_for_ownership(tags: dict[str, str]) -> None:
    """Deleting: no ResourceGroupNotOwned, whoever made the group."""
    assert ownership_error(group("Deleting", tags=tags), SETTINGS) is None


def test_a_group_that_stays_is_still_judged() -> None:
    """The rule is unchanged for a group that exists and is not going away."""
    refused = ownership_error(group("Succeeded", tags={"owner": "someone"}), SETTINGS)
    assert refused is not None and refused.info.code == "ResourceGroupNotOwned"


def _spa_message() -> Delivery:
    document = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    return Delivery(id="spa", wire=base64.b64encode(json.dumps(document).encode()), dequeue_count=1)


def test_a_redeploy_waits_out_a_foreign_deleting_group_then_creates_its_own() -> None:
    """An untagged predecessor group still Deleting: wait, then create ours once it is gone."""
    world = World(SETTINGS, T0)
    name = example_request()["resource_group"]
    world.arm.groups[name] = group("Deleting", tags={"owner": "predecessor"})
    handle(_spa_message(), world.deps)
    record = world.status.get(REQUEST_ID)
    assert record is not None
    assert record.phase is Phase.ENSURING_RESOURCE_GROUP, record.error
    assert record.deleting_since == T0
    assert [delay for _, delay in world.outbox.chained] == [30]
    assert "create_group" not in world.arm.calls

    del world.arm.groups[name]  # the deletion finished
    handle(world.outbox.chain_delivery(), world.deps)
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.phase is Phase.CREATING_CLUSTER, record
    assert world.arm.groups[name].tags["managed-by"] == "aks-provisioner"
