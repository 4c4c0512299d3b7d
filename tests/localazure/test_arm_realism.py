"""Where the ARM emulator used to be kinder than Azure (issue 15): each behaviour, as the real SDK
clients see it. Sources: docs/emulator.md."""

from __future__ import annotations

import http.client
import json
import ssl
import time
import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest, HttpResponse
from azure.identity import DefaultAzureCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient

from localazure.arm import ArmEmulator
from localazure.arm.catalog import AKS_API_VERSIONS, LOCATIONS, RESOURCES_API_VERSIONS
from tests.localazure.sdk import SUB, _create_cluster, _get, _name, _statuses, make_rm

AKS = "Microsoft.ContainerService/managedClusters"


def _cluster_url(arm: ArmEmulator, group: str, name: str, version: str) -> str:
    return (
        f"{arm.url}/subscriptions/{SUB}/resourceGroups/{group}/providers/{AKS}/{name}"
        f"?api-version={version}"
    )


def _put(
    aks: ContainerServiceClient, url: str, body: dict[str, Any], **headers: str
) -> HttpResponse:
    return aks.send_request(HttpRequest("PUT", url, json=body, headers=headers))


def _body(location: str = "eastus", **properties: Any) -> dict[str, Any]:
    pools = [{"name": "system", "mode": "System", "count": 3, "vmSize": "Standard_D4s_v5"}]
    return {
        "location": location,
        "properties": {"dnsPrefix": "demo", "agentPoolProfiles": pools, **properties},
    }


def _error(response: HttpResponse) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


# -- row 1: api-versions per region ------------------------------------------------------------


def test_sdk_api_versions_are_the_emulators_first(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """Fails when an SDK upgrade changes the api-version it sends while the emulator's tables
    stay as they were: the tables must list it first and offer it in every region."""
    arm.add_group("rg")
    rm.resource_groups.get("rg")
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get("rg", "absent")
    sent = {c.path.split("/")[-2].lower(): c.query["api-version"] for c in arm.calls}
    assert sent["resourcegroups"] == RESOURCES_API_VERSIONS[0]
    assert sent["managedclusters"] == AKS_API_VERSIONS[0]
    provider = rm.providers.get("Microsoft.ContainerService")
    clusters = next(
        t for t in provider.resource_types or [] if t.resource_type == "managedClusters"
    )
    assert AKS_API_VERSIONS[0] in (clusters.api_versions or [])
    assert sorted(clusters.locations or []) == sorted(LOCATIONS)


def test_api_version_not_offered_in_region_is_no_registered_provider(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """A region behind the SDK: every create there fails with 400 NoRegisteredProviderFound."""
    arm.set_aks_api_versions(location="West Europe", versions=["2025-10-01", "2024-10-01"])
    rm.resource_groups.create_or_update("we", {"location": "westeurope"})
    rm.resource_groups.create_or_update("us", {"location": "eastus"})
    request = _body("westeurope")
    response = _put(aks, _cluster_url(arm, "we", "c1", AKS_API_VERSIONS[0]), request)
    status, code, message = _error(response)
    assert (status, code) == (400, "NoRegisteredProviderFound")
    assert message.startswith(
        "No registered resource provider found for location 'westeurope' and API version "
        f"'{AKS_API_VERSIONS[0]}' for type 'managedClusters'. The supported api-versions are '"
    )
    assert "The supported locations are '" in message
    # The same version works where it is offered, and an offered one works in westeurope.
    assert _put(aks, _cluster_url(arm, "us", "c1", AKS_API_VERSIONS[0]), _body()).status_code == 201
    assert _put(aks, _cluster_url(arm, "we", "c1", "2025-10-01"), request).status_code == 201


def test_provider_lists_regions_offering_managed_clusters(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """ARM's flattened provider view: a region offering no version drops out of `locations`;
    `apiVersions` is the union of what the regions offer."""
    arm.set_aks_api_versions(location="uksouth", versions=[])
    provider = rm.providers.get("Microsoft.ContainerService")
    clusters = next(
        t for t in provider.resource_types or [] if t.resource_type == "managedClusters"
    )
    assert "UK South" not in (clusters.locations or [])
    assert "West Europe" in (clusters.locations or [])
    assert sorted(clusters.api_versions or []) == sorted(AKS_API_VERSIONS)


def test_unknown_version_in_offer_table_is_refused(arm: ArmEmulator) -> None:
    with pytest.raises(ValueError, match="unknown AKS api-versions"):
        arm.set_aks_api_versions(location="eastus", versions=["2099-01-01"])


# -- row 2: conditional headers only where the spec declares them ------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2024-09-01", 200), ("2024-05-01", 200), ("2024-10-01", 412), (AKS_API_VERSIONS[0], 412)],
)
def test_if_none_match_only_from_the_api_version_that_declares_it(
    arm: ArmEmulator,
    rm: ResourceManagementClient,
    aks: ContainerServiceClient,
    version: str,
    expected: int,
) -> None:
    """stable/2024-09-01 has no If-None-Match: a create-only PUT silently updates the cluster."""
    arm.set_cluster_create(polls=0)
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert _put(aks, _cluster_url(arm, name, "c1", version), _body()).status_code == 201
    again = _put(aks, _cluster_url(arm, name, "c1", version), _body(), **{"If-None-Match": "*"})
    assert again.status_code == expected


# -- row 3: flapping visibility -------------------------------------------------------------


def _watch(probe: Any, until: float) -> list[int]:
    """Statuses of repeated probes until `until` (monotonic), runs collapsed: [200, 404, 200]."""
    seen: list[int] = []
    while time.monotonic() < until:
        status = probe()
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.05)
    return seen


def test_group_reads_flap_visible_404_visible(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """After a successful create a read can see the group, then 404, then see it again."""
    arm.set_read_flap(windows=[(0.6, 1.4)])
    name = _name("rg")
    start = time.monotonic()
    rm.resource_groups.create_or_update(name, {"location": "eastus"})

    def probe() -> int:
        try:
            rm.resource_groups.get(name)
        except ResourceNotFoundError:
            return 404
        return 200

    seen = _watch(probe, start + 2.4)
    # The first read may already fall in the window on a loaded machine; the flip back may not.
    assert seen in ([200, 404, 200], [404, 200])


def test_aks_flap_is_separate_from_reads(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """AKS does not see the group in its windows even while ARM reads do."""
    arm.set_aks_flap(windows=[(0.0, 1.0)])
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert rm.resource_groups.get(name).name == name
    status, code, _ = _error(_put(aks, _cluster_url(arm, name, "c1", AKS_API_VERSIONS[0]), _body()))
    assert (status, code) == (404, "ResourceGroupNotFound")
    time.sleep(1.1)
    assert _put(aks, _cluster_url(arm, name, "c1", AKS_API_VERSIONS[0]), _body()).status_code == 201


def test_flap_window_must_be_ordered(arm: ArmEmulator) -> None:
    with pytest.raises(ValueError, match="start < end"):
        arm.set_read_flap(windows=[(2.0, 1.0)])


# -- row 4: AKS's synchronous 400s ------------------------------------------------------------


def _pool(name: str = "system", mode: str = "System", size: str = "Standard_D4s_v5") -> Any:
    count = 3
    return {"name": name, "mode": mode, "count": count, "vmSize": size}


SYNC_400 = [
    pytest.param(
        {"agentPoolProfiles": [_pool("user1", "User")]},
        None,
        ("MustDefineAtLeastOneSystemPool", "Must define at least one system pool."),
        id="no-system-pool",
    ),
    pytest.param(
        {"agentPoolProfiles": [_pool(size="Standard_DS1_v2")]},
        None,
        (
            "SystemPoolSkuTooLow",
            "System node pool must use VM sku with more than 2 cores and 4GB memory. "
            "Nodepool name: system.",
        ),
        id="system-pool-too-small",
    ),
    pytest.param(
        {"kubernetesVersion": "1.27"},
        None,
        ("AgentPoolK8sVersionNotSupported", "Version 1.27 is not supported in this region."),
        id="kubernetes-version",
    ),
    pytest.param(
        {},
        ("restrict_vm_size", {"location": "eastus", "vm_size": "Standard_D4s_v5"}),
        (
            "BadRequest",
            "The VM size of AgentPoolProfile:system is not allowed in your subscription in "
            "location 'eastus'.",
        ),
        id="vm-size-not-offered",
    ),
    pytest.param(
        {},
        ("set_vcpu_quota", {"location": "eastus", "family": "standardDSv5Family", "limit": 8}),
        (
            "ErrCode_InsufficientVCPUQuota",
            "Insufficient vcpu quota requested 12, remaining 8 for family standardDSv5Family "
            "for region eastus.",
        ),
        id="vcpu-quota",
    ),
]


@pytest.mark.parametrize(("properties", "scenario", "expected"), SYNC_400)
def test_aks_refuses_at_once_with_400(
    arm: ArmEmulator,
    rm: ResourceManagementClient,
    aks: ContainerServiceClient,
    properties: dict[str, Any],
    scenario: tuple[str, dict[str, Any]] | None,
    expected: tuple[str, str],
) -> None:
    """The most common real create failures: 400 on the PUT, no operation, no cluster."""
    if scenario is not None:
        arm.apply(*scenario)
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    response = _put(aks, _cluster_url(arm, name, "c1", AKS_API_VERSIONS[0]), _body(**properties))
    status, code, message = _error(response)
    assert (status, code) == (400, expected[0])
    assert message.startswith(expected[1])
    assert "Azure-AsyncOperation" not in response.headers
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(name, "c1")


def test_vcpu_quota_counts_the_clusters_already_there(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    arm.set_vcpu_quota(location="eastus", family="standardDSv5Family", limit=20)
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert _put(aks, _cluster_url(arm, name, "c1", AKS_API_VERSIONS[0]), _body()).status_code == 201
    status, code, message = _error(
        _put(aks, _cluster_url(arm, name, "c2", AKS_API_VERSIONS[0]), _body())
    )
    assert (status, code) == (400, "ErrCode_InsufficientVCPUQuota")
    assert "requested 12, remaining 8" in message


# -- rows 5 and 6: error shapes and the operation URL ----------------------------------------


def test_operation_status_has_no_id_and_a_byte_swapped_name(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """As recorded from AKS: {name, status, startTime[, endTime]}; name is the id's GUID with
    its first three fields byte-swapped."""
    arm.set_cluster_create(polls=1)
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    _, headers = _create_cluster(aks, name, "c1")
    url = headers["Azure-AsyncOperation"]
    op_id = url.split("/operations/")[1].split("?")[0]
    first = _get(aks, url).json()
    assert set(first) == {"name", "status", "startTime"}
    assert first["status"] == "InProgress"
    assert first["name"] == str(uuid.UUID(bytes=uuid.UUID(op_id).bytes_le))
    assert set(_get(aks, url).json()) == {"name", "status", "startTime", "endTime"}


def test_canceled_operation(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    arm.set_cluster_create(polls=0, outcome="Canceled")
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    _, headers = _create_cluster(aks, name, "c1")
    assert _get(aks, headers["Azure-AsyncOperation"]).json()["status"] == "Canceled"
    cluster = aks.managed_clusters.get(name, "c1")
    assert cluster.properties is not None and cluster.properties.provisioning_state == "Canceled"


# -- row 8: ARM's token buckets ---------------------------------------------------------------


def test_no_throttling_by_default(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    arm.add_group("rg")
    response = _get(rm, f"{arm.url}/subscriptions/{SUB}/resourcegroups/rg?api-version=2025-04-01")
    assert response.status_code == 200
    assert "x-ms-ratelimit-remaining-subscription-reads" not in response.headers


def test_token_buckets_throttle_reads_writes_and_deletes_separately(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """An empty bucket answers 429 SubscriptionRequestsThrottled with Retry-After; the other
    kinds still pass; every answer says what remains."""
    arm.set_throttling(reads=(3, 0.5), writes=(2, 0.5))
    arm.add_group("rg")
    url = f"{arm.url}/subscriptions/{SUB}/resourcegroups/rg?api-version=2025-04-01"
    reads = [_get(rm, url) for _ in range(4)]
    assert [r.status_code for r in reads] == [200, 200, 200, 429]
    assert [r.headers["x-ms-ratelimit-remaining-subscription-reads"] for r in reads] == [
        "2",
        "1",
        "0",
        "0",
    ]
    status, code, message = _error(reads[-1])
    assert (status, code) == (429, "SubscriptionRequestsThrottled")
    assert message.startswith(f"Number of 'read' requests for subscription '{SUB}' actor '")
    assert 1 <= int(reads[-1].headers["Retry-After"]) <= 2
    put = rm.send_request(HttpRequest("PUT", url, json={"location": "eastus"}))
    assert put.status_code == 200
    assert put.headers["x-ms-ratelimit-remaining-subscription-writes"] == "1"


def test_sdk_honours_the_throttle_retry_after(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """azure-core's retry policy waits Retry-After and the call then succeeds."""
    arm.set_throttling(reads=(1, 1.0))
    arm.add_group("rg")
    rm_retrying = make_rm(arm, credential, retry_total=3)
    assert rm_retrying.resource_groups.get("rg").name == "rg"
    assert rm_retrying.resource_groups.get("rg").name == "rg"
    assert _statuses(arm, "GET", "/resourcegroups/rg").count(429) >= 1


def test_throttling_is_off_again_when_disabled(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    arm.set_throttling(reads=(1, 0.01))
    arm.set_throttling(False)
    arm.add_group("rg")
    assert [rm.resource_groups.get("rg").name for _ in range(3)] == ["rg"] * 3


# -- row 7: keep-alive ------------------------------------------------------------------------


def test_connections_are_kept_alive_over_tls(arm: ArmEmulator) -> None:
    """Several calls on one TLS connection, as ARM's front ends allow (no Connection: close)."""
    host, port = arm.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(arm.ca_pem))
    connection = http.client.HTTPSConnection(host, int(port), context=context)
    path = f"/subscriptions/{SUB}/resourcegroups/x?api-version=2025-04-01"
    answers = []
    sockets = []
    try:
        for _ in range(3):
            connection.request("GET", path)
            response = connection.getresponse()
            answers.append((response.status, response.getheader("Connection")))
            json.loads(response.read())
            # http.client drops its socket after an answer that closes the connection.
            sockets.append(connection.sock)
    finally:
        connection.close()
    assert answers == [(401, None)] * 3
    assert sockets[0] is not None and sockets == [sockets[0]] * 3


def test_throttle_limits_must_be_positive(arm: ArmEmulator) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        arm.set_throttling(reads=(0, 1))


def test_policy_denial_applies_to_a_named_resource_group(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """The deny names the group; AuthorizationFailed spells the action in lowercase."""
    arm.add_fault("policy", method="PUT", path="/resourcegroups/denied$")
    with pytest.raises(HttpResponseError) as info:
        rm.resource_groups.create_or_update("denied", {"location": "eastus"})
    assert info.value.error is not None and info.value.error.code == "RequestDisallowedByPolicy"
    assert str(info.value.error.message).startswith("Resource 'denied' was disallowed by policy.")
