"""The provisioning function end to end: local host, Azurite and the ARM emulator, real SDKs."""

from __future__ import annotations

from collections.abc import Callable

from localazure.arm import ArmEmulator
from tests.plugins.provisioner import Provisioner, sample_request, summary


def test_happy_path_is_one_invocation(provisioner: Provisioner) -> None:
    """GET 404, PUT, GET, create-only AKS PUT, all in the first invocation."""
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(
        request["request_id"], lambda s: s["phase"] != "ensuring_resource_group"
    )
    assert status["phase"] == "creating_cluster"
    assert status["attempt"] == 1
    calls = provisioner.arm_calls(request["resource_group"])
    assert summary(calls)[:4] == ["GET rg 404", "PUT rg 201", "GET rg 200", "PUT aks 201"]
    aks_put = calls[3]
    assert {k.lower(): v for k, v in aks_put.headers.items()}.get("if-none-match") == "*"
    # One invocation: no 5 s re-enqueue between the first GET and the AKS PUT.
    assert aks_put.time - calls[0].time < 3


def test_old_contract_three_checks_across_three_invocations(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A group hidden for two checks: three checks, ~5 s apart, one group PUT, then AKS."""
    app = provisioner_factory()
    app.start()
    arm.set_read_lag(reads=2)
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], lambda s: s["phase"] != "ensuring_resource_group")
    assert status["phase"] == "creating_cluster"
    calls = app.arm_calls(request["resource_group"])
    lines = summary(calls)
    assert lines[:6] == [
        "GET rg 404",
        "PUT rg 201",
        "GET rg 404",
        "GET rg 404",
        "GET rg 200",
        "PUT aks 201",
    ]
    assert lines.count("PUT rg 201") + lines.count("PUT rg 200") == 1
    gaps = [calls[3].time - calls[2].time, calls[4].time - calls[3].time]
    assert all(4.5 <= gap <= 9 for gap in gaps), gaps
    assert status["attempt"] == 3


def test_existing_owned_group_is_not_put(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """A group that exists in Succeeded (and is ours) is visible at once: no PUT over it."""
    request = sample_request()
    arm.add_group(
        request["resource_group"], location="westeurope", tags={"managed-by": "aks-provisioner"}
    )
    provisioner.send(request)
    provisioner.wait_for(request["request_id"], lambda s: s["phase"] != "ensuring_resource_group")
    assert summary(provisioner.arm_calls(request["resource_group"]))[:2] == [
        "GET rg 200",
        "PUT aks 201",
    ]


def test_cluster_create_is_watched_to_success(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """A create that takes 3 polls ends succeeded after about 3 watch invocations."""
    arm.set_cluster_create(polls=3)
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(request["request_id"])
    assert status["phase"] == "succeeded", status
    assert status["cluster_id"].lower().endswith("/managedclusters/aks-elb")
    operation_polls = [c for c in arm.calls if "/operations/" in c.path.lower()]
    assert 3 <= len(operation_polls) <= 4
