"""The watch after the AKS create, and recovery when AKS cannot see the group (issue: watch)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from localazure.arm import ArmEmulator
from tests.plugins.provisioner import Provisioner, sample_request, summary


@pytest.mark.parametrize("mode", ["immediate", "async"])
def test_aks_not_seeing_the_group_goes_back_to_checking(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator, mode: str
) -> None:
    """AKS answers ResourceGroupNotFound (at once or in the operation): re-check, re-create, win."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="1")
    app.start()
    arm.set_aks_lag(failures=1, mode=mode)  # type: ignore[arg-type]
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=60)
    assert status["phase"] == "succeeded", status
    aks_puts = [
        line
        for line in summary(app.arm_calls(request["resource_group"]))
        if line.startswith("PUT aks")
    ]
    # At once: the 404 PUT, then the create. Later: the create whose operation failed, a 412
    # for our own Failed cluster, then the PUT without the condition.
    expected = {
        "immediate": ["PUT aks 404", "PUT aks 201"],
        "async": ["PUT aks 201", "PUT aks 412", "PUT aks 200"],
    }
    assert aks_puts == expected[mode]
    assert "re-check 1/3" in (app.host.output if app.host else "")


def test_aks_never_seeing_the_group_fails_past_the_bound(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """Past AKS_RG_NOT_FOUND_RETRIES the request fails with ResourceGroupNotFound."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="1", AKS_RG_NOT_FOUND_RETRIES="2")
    app.start()
    arm.set_aks_lag(failures=100, mode="immediate")
    request = sample_request()
    app.failed_with(request, "ResourceGroupNotFound", "AKS still could not see")
    aks_puts = [
        line
        for line in summary(app.arm_calls(request["resource_group"]))
        if line.startswith("PUT aks")
    ]
    assert len(aks_puts) == 3


def test_group_being_deleted_is_waited_out_and_created_anew(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A group Deleting for 2 reads is never visible; once gone it is created anew."""
    app = provisioner_factory(RG_DELETING_DELAY_SECONDS="1")
    app.start()
    request = sample_request()
    arm.add_group(
        request["resource_group"],
        location="westeurope",
        tags={"managed-by": "aks-provisioner"},
        provisioning_state="Deleting",
        deleting_reads=2,
    )
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=60)
    assert status["phase"] == "succeeded", status
    lines = summary(app.arm_calls(request["resource_group"]))
    assert lines[:4] == ["GET rg 200", "GET rg 200", "GET rg 404", "PUT rg 201"]
    assert status["attempt"] == 1  # the deletion wait spent no visibility attempt


def test_watch_timeout_is_reported(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A create that outlives CLUSTER_CREATE_TIMEOUT_MINUTES fails ClusterCreateTimeout."""
    app = provisioner_factory(CLUSTER_CREATE_TIMEOUT_MINUTES="0.05")
    app.start()
    arm.set_cluster_create(polls=10_000)
    request = sample_request()
    status = app.failed_with(request, "ClusterCreateTimeout", "may still be running", timeout=30)
    assert status["cluster_id"]


def test_foreign_operation_url_is_refused_and_the_cluster_is_read_instead(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """An Azure-AsyncOperation on another host gets no token: the watch GETs the cluster."""
    # The emulator names itself 127.0.0.1; an ARM_ENDPOINT of localhost makes its URLs foreign.
    port = arm.url.rsplit(":", 1)[1]
    app = provisioner_factory(ARM_ENDPOINT=f"https://localhost:{port}")
    app.start()
    arm.set_cluster_create(polls=0, seconds=5)
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=40)
    assert status["phase"] == "succeeded", status
    assert not [c for c in arm.calls if "/operations/" in c.path.lower()]
    cluster_gets = [
        c
        for c in app.arm_calls(request["resource_group"])
        if c.method == "GET" and "/managedclusters/" in c.path.lower()
    ]
    assert len(cluster_gets) >= 2


def test_failed_create_of_our_own_cluster_is_put_again_on_redrive(
    provisioner: Provisioner, arm: ArmEmulator
) -> None:
    """Our cluster left Failed: a re-drive gets 412, sees our tag, PUTs without the condition."""
    arm.set_cluster_create(polls=1, outcome="Failed", error_code="InternalOperationError", times=1)
    request = sample_request()
    provisioner.send(request)
    failed = provisioner.wait_for(request["request_id"])
    assert failed["phase"] == "failed"
    assert failed["error"]["code"] == "InternalOperationError"
    provisioner.send(request)  # the same payload once failed: a re-drive
    status = provisioner.wait_for(
        request["request_id"], lambda s: s["run"] == 2 and s["phase"] in ("succeeded", "failed")
    )
    assert status["phase"] == "succeeded", status
    puts = [
        c
        for c in provisioner.arm_calls(request["resource_group"])
        if c.method == "PUT" and "/managedclusters/" in c.path.lower()
    ]
    assert [c.status for c in puts] == [201, 412, 200] or [c.status for c in puts] == [
        201,
        412,
        201,
    ]
    assert "if-none-match" not in {k.lower() for k in puts[-1].headers}
