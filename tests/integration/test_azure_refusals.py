"""How the app meets Azure's refusals (issue 15): AKS's synchronous 400s, an api-version its
region does not offer, flapping visibility within and beyond the budgets, and ARM throttling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from localazure.arm import ArmEmulator
from tests.plugins.provisioner import Provisioner, sample_request

AKS = "/managedclusters/"
REGION = "westeurope"  # the contract example's location


def _calls(app: Provisioner, request: dict[str, Any], method: str, aks: bool) -> list[int]:
    return [
        c.status
        for c in app.arm_calls(request["resource_group"])
        if c.method == method and (AKS in c.path.lower()) == aks
    ]


def _ended(app: Provisioner, request: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    status = app.settle(request["request_id"], timeout=timeout)
    assert status is not None and status["phase"] in ("succeeded", "failed"), status
    return status


AKS_400 = [
    pytest.param(
        ("set_vcpu_quota", {"location": REGION, "family": "standardDSv5Family", "limit": 8}),
        "ErrCode_InsufficientVCPUQuota",
        "Insufficient vcpu quota requested 12, remaining 8 for family standardDSv5Family",
        id="vcpu-quota",
    ),
    pytest.param(
        ("set_kubernetes_versions", {"location": REGION, "versions": ["1.33.3"]}),
        "AgentPoolK8sVersionNotSupported",
        "Version 1.31 is not supported in this region.",
        id="kubernetes-version",
    ),
    pytest.param(
        ("restrict_vm_size", {"location": REGION, "vm_size": "Standard_D4s_v5"}),
        "BadRequest",
        "The VM size of AgentPoolProfile:system is not allowed in your subscription",
        id="vm-size",
    ),
]


@pytest.mark.parametrize(("scenario", "code", "message"), AKS_400)
def test_aks_400_fails_the_request_at_once_with_aks_code_and_message(
    provisioner: Provisioner,
    arm: ArmEmulator,
    scenario: tuple[str, dict[str, Any]],
    code: str,
    message: str,
) -> None:
    """No retry storm: one AKS PUT, then failed with AKS's own code and text."""
    arm.apply(*scenario)
    request = sample_request()
    provisioner.send(request)
    status = _ended(provisioner, request)
    assert status["phase"] == "failed", status
    assert status["error"]["code"] == code
    assert status["error"]["message"].startswith(message)
    assert _calls(provisioner, request, "PUT", aks=True) == [400]


def test_no_registered_provider_names_api_version_region_and_fix(
    provisioner: Provisioner, arm: ArmEmulator
) -> None:
    """The SDK is ahead of the region: failed once, saying which version, where, and what to do."""
    arm.set_aks_api_versions(location=REGION, versions=["2025-10-01", "2024-10-01"])
    request = sample_request()
    provisioner.send(request)
    status = _ended(provisioner, request)
    assert status["phase"] == "failed", status
    error = status["error"]
    assert error["code"] == "NoRegisteredProviderFound"
    (put,) = [c for c in provisioner.arm_calls(request["resource_group"]) if AKS in c.path.lower()]
    version = put.query["api-version"]
    assert error["message"].startswith(
        f"AKS api-version {version}, the one this app's azure-mgmt-containerservice sends, is "
        f"not offered in region {REGION}. To fix:"
    )
    assert "ALLOWED_LOCATIONS" in error["message"] and "az provider show" in error["message"]


@pytest.fixture
def fast_checks(provisioner_factory: Callable[..., Provisioner]) -> Callable[..., Provisioner]:
    def make(**settings: str) -> Provisioner:
        app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="1", **settings)
        app.start()
        return app

    return make


def test_flapping_within_the_budgets_succeeds(
    fast_checks: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """Reads see the group, AKS does not, then reads lose it again (visible, 404, visible): the
    app re-checks within RG_VISIBILITY_ATTEMPTS and AKS_RG_NOT_FOUND_RETRIES and succeeds."""
    arm.set_aks_flap(windows=[(0.0, 2.0)])
    arm.set_read_flap(windows=[(1.5, 4.0)])
    app = fast_checks()
    request = sample_request()
    app.send(request)
    status = _ended(app, request)
    assert status["phase"] == "succeeded", status
    assert 404 in _calls(app, request, "PUT", aks=True)  # AKS did not see the group at first
    reads = _calls(app, request, "GET", aks=False)
    assert 200 in reads and 404 in reads, reads


@pytest.mark.parametrize(
    ("flap", "settings", "reason"),
    [
        pytest.param(
            "set_aks_flap",
            {"AKS_RG_NOT_FOUND_RETRIES": "1"},
            "AKS still could not see resource group {group} after 1 re-checks",
            id="aks",
        ),
        pytest.param(
            "set_read_flap",
            {"RG_VISIBILITY_ATTEMPTS": "2"},
            "resource group {group} was not visible after 2 checks",
            id="reads",
        ),
    ],
)
def test_flapping_beyond_the_budgets_fails_with_a_clear_reason(
    fast_checks: Callable[..., Provisioner],
    arm: ArmEmulator,
    flap: str,
    settings: dict[str, str],
    reason: str,
) -> None:
    arm.apply(flap, {"windows": [(0.0, 120.0)]})
    app = fast_checks(**settings)
    request = sample_request()
    app.send(request)
    status = _ended(app, request)
    assert status["phase"] == "failed", status
    assert status["error"]["code"] == "ResourceGroupNotFound"
    assert status["error"]["message"].startswith(reason.format(group=request["resource_group"]))


def _burst(app: Provisioner, arm: ArmEmulator, n: int, timeout: float) -> list[dict[str, Any]]:
    requests = [sample_request() for _ in range(n)]
    for request in requests:
        app.send(request)
    return [_ended(app, r, timeout) for r in requests]


def test_throttled_burst_ends_without_failures(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """Small buckets, so that most writes meet a 429: Retry-After is honoured (in process when
    short, through the queue when longer) and no request fails for it."""
    arm.set_throttling(reads=(20, 10), writes=(4, 4), deletes=(4, 4))
    ended = _burst(provisioner, arm, 12, timeout=180)
    assert [s["phase"] for s in ended] == ["succeeded"] * 12, [s.get("error") for s in ended]
    assert sum(1 for c in arm.calls if c.status == 429) > 0


@pytest.mark.slow
def test_throttled_burst_of_200_into_one_subscription(
    provisioner: Provisioner, arm: ArmEmulator
) -> None:
    """ARM's documented buckets (250 reads, 200 writes, 10/s refill) and a 200-request burst."""
    arm.set_throttling()
    ended = _burst(provisioner, arm, 200, timeout=900)
    failed = [s["error"] for s in ended if s["phase"] != "succeeded"]
    assert failed == [], failed[:3]
