"""The ARM emulator as the real SDK clients see it, over HTTPS with managed-identity tokens."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.core.rest import HttpResponse
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.resource.resources import ResourceManagementClient

from localazure.arm import ArmEmulator
from localazure.arm.identity import fetch_arm_token
from localazure.tokens import ISSUER, read_claims
from tests.localazure.sdk import (
    OTHER_SUB,
    RG_VERSION,
    SUB,
    _cluster_request,
    _create_cluster,
    _get,
    _name,
    _statuses,
    make_aks,
    make_rm,
)

# Time windows of the emulator: long enough for a few TLS calls on a loaded 2-core machine.
WINDOW = 2.0


def _new_group(rm: ResourceManagementClient) -> str:
    """A fresh resource group in eastus; its name."""
    name = _name("rg")
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    return name


def _cluster_in_new_group(
    arm: ArmEmulator,
    rm: ResourceManagementClient,
    aks: ContainerServiceClient,
    **plan: Any,
) -> tuple[str, ManagedCluster, Any]:
    """Cluster ``c1`` PUT (not polled) into a fresh group, its operations following ``plan``
    (``set_cluster_create``'s arguments); the group's name, the body and the headers."""
    arm.set_cluster_create(**plan)
    name = _new_group(rm)
    body, headers = _create_cluster(aks, name, "c1")
    return name, body, headers


def _sleep_past(opened: float) -> None:
    """Sleep until the window that opened (at the latest) at ``opened`` has surely closed."""
    time.sleep(max(0.0, opened + WINDOW - time.monotonic()) + 0.1)


# -- managed identity -----------------------------------------------------------------------


def test_default_credential_gets_token_from_app_service_endpoint(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """An unmodified DefaultAzureCredential gets an Entra-shaped token for the ARM audience."""
    token = credential.get_token(f"{arm.url}/.default")
    claims = read_claims(token.token)
    assert claims["aud"] == arm.url
    assert claims["iss"] == ISSUER
    assert token.expires_on > time.time() + 3600
    assert arm.token_fetches == {arm.url: 1}


def test_identity_endpoint_rejects_wrong_secret(
    arm: ArmEmulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong X-IDENTITY-HEADER gets no token, so the credential fails."""
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    with ManagedIdentityCredential() as cred, pytest.raises(ClientAuthenticationError):
        cred.get_token(f"{arm.url}/.default")
    assert arm.token_fetches == {}


def test_identity_endpoint_wire_format(arm: ArmEmulator) -> None:
    """The endpoint answers App Service's 2019-08-01 shape and honours client_id and mi_res_id."""
    response = requests.get(
        arm.identity_endpoint,
        params={
            "resource": "https://storage.azure.com",
            "api-version": "2019-08-01",
            "client_id": "cid",
        },
        headers={"X-IDENTITY-HEADER": arm.identity_header},
        timeout=5,
    )
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert (body["token_type"], body["client_id"], body["resource"]) == (
        "Bearer",
        "cid",
        "https://storage.azure.com",
    )
    assert int(body["expires_on"]) > time.time()
    assert read_claims(body["access_token"])["aud"] == "https://storage.azure.com"
    by_resource_id = requests.get(
        arm.identity_endpoint,
        params={
            "resource": arm.url,
            "api-version": "2019-08-01",
            "mi_res_id": "/subscriptions/x/id",
        },
        headers={"X-IDENTITY-HEADER": arm.identity_header},
        timeout=5,
    )
    assert by_resource_id.status_code == 200
    wrong_version = requests.get(
        arm.identity_endpoint,
        params={"resource": arm.url, "api-version": "2017-09-01"},
        headers={"X-IDENTITY-HEADER": arm.identity_header},
        timeout=5,
    )
    assert wrong_version.status_code == 400


def test_user_assigned_identity_by_client_id(arm: ArmEmulator, env: dict[str, str]) -> None:
    """ManagedIdentityCredential(client_id=...) works against the endpoint."""
    with ManagedIdentityCredential(client_id="22222222-2222-2222-2222-222222222222") as cred:
        token = cred.get_token(f"{arm.url}/.default")
    assert read_claims(token.token)["aud"] == arm.url


# -- authentication on ARM ------------------------------------------------------------------


def test_arm_rejects_call_without_token(arm: ArmEmulator) -> None:
    """No Authorization header: 401 AuthenticationFailed with WWW-Authenticate."""
    response = requests.get(
        f"{arm.url}/subscriptions/{SUB}/resourcegroups/x?api-version={RG_VERSION}",
        verify=str(arm.ca_pem),
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.headers["x-ms-request-id"]


def test_arm_rejects_token_for_public_cloud_audience(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """A token scoped to management.azure.com (not the endpoint in use) is refused."""
    rm = make_rm(arm, credential, credential_scopes=["https://management.azure.com/.default"])
    with pytest.raises(ClientAuthenticationError) as info:
        rm.resource_groups.get("anything")
    assert info.value.status_code == 401
    assert info.value.error is not None
    assert info.value.error.code == "InvalidAuthenticationTokenAudience"


def test_arm_rejects_malformed_bearer(arm: ArmEmulator) -> None:
    """A bearer that is not a valid token: 401 InvalidAuthenticationToken."""
    response = requests.get(
        f"{arm.url}/subscriptions/{SUB}/resourcegroups/x?api-version={RG_VERSION}",
        headers={"Authorization": "Bearer nonsense"},
        verify=str(arm.ca_pem),
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_arm_accepts_audience_with_trailing_slash(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """A token for '<url>/' is as good as one for '<url>'."""
    rm = make_rm(arm, credential, credential_scopes=[f"{arm.url}//.default"])
    rm.resource_groups.create_or_update(_name("rg"), {"location": "eastus"})
    assert arm.token_fetches == {f"{arm.url}/": 1}


# -- wire conventions -----------------------------------------------------------------------


def test_correlation_id_is_echoed_and_request_id_generated(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """x-ms-correlation-request-id comes back as sent; x-ms-request-id is fresh per call."""
    url = f"{arm.url}/subscriptions/{SUB}/resourcegroups/none?api-version={RG_VERSION}"
    first = _get(rm, url, **{"x-ms-correlation-request-id": "corr-1"})
    second = _get(rm, url)
    assert first.status_code == 404
    assert first.headers["x-ms-correlation-request-id"] == "corr-1"
    assert second.headers["x-ms-correlation-request-id"] not in ("", "corr-1")
    assert first.headers["x-ms-request-id"] != second.headers["x-ms-request-id"]
    assert first.json()["error"]["code"] == "ResourceGroupNotFound"


def test_unknown_api_version_is_rejected(
    arm: ArmEmulator, credential: DefaultAzureCredential, rm: ResourceManagementClient
) -> None:
    """Unknown api-version: 400 InvalidApiVersionParameter; none: MissingApiVersionParameter."""
    future = make_rm(arm, credential, api_version="2099-01-01")
    with pytest.raises(HttpResponseError) as info:
        future.resource_groups.get("x")
    assert (info.value.status_code, info.value.error.code if info.value.error else None) == (
        400,
        "InvalidApiVersionParameter",
    )
    missing = _get(rm, f"{arm.url}/subscriptions/{SUB}/resourcegroups/x")
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        400,
        "MissingApiVersionParameter",
    )


def test_paths_are_case_insensitive(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """/SUBSCRIPTIONS/.../ResourceGroups/NAME finds the group created in lower case."""
    name = _new_group(rm)
    response = _get(
        rm, f"{arm.url}/SUBSCRIPTIONS/{SUB}/ResourceGroups/{name.upper()}?api-version={RG_VERSION}"
    )
    assert response.status_code == 200
    assert response.json()["name"] == name


def test_unknown_route_is_invalid_resource_type(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """A path the emulator does not serve answers 404 InvalidResourceType, not an HTML page."""
    response = _get(
        rm, f"{arm.url}/subscriptions/{SUB}/providers/Microsoft.Foo/bars/x?api-version={RG_VERSION}"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (404, "InvalidResourceType")


# -- resource groups ------------------------------------------------------------------------


def test_group_put_creates_201_then_updates_200_replacing_tags(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """PUT answers 201 on create, 200 on update, and the update replaces the tags."""
    name = _name("rg")
    created = rm.resource_groups.create_or_update(name, {"location": "East US", "tags": {"a": "1"}})
    updated = rm.resource_groups.create_or_update(name, {"location": "eastus", "tags": {"b": "2"}})
    assert _statuses(arm, "PUT", name) == [201, 200]
    assert created.location == "eastus"
    assert created.properties is not None and created.properties.provisioning_state == "Succeeded"
    assert updated.tags == {"b": "2"}
    fetched = rm.resource_groups.get(name)
    assert fetched.id == f"/subscriptions/{SUB}/resourceGroups/{name}"
    assert fetched.type == "Microsoft.Resources/resourceGroups"
    assert fetched.tags == {"b": "2"}


def test_group_put_in_other_location_is_409(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """Re-creating a group in another location: 409 InvalidResourceGroupLocation."""
    name = _new_group(rm)
    with pytest.raises(ResourceExistsError) as info:
        rm.resource_groups.create_or_update(name, {"location": "westeurope"})
    assert info.value.error is not None and info.value.error.code == "InvalidResourceGroupLocation"


def test_check_existence_answers_204_or_404(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """HEAD answers 204 for an existing group and 404 for a missing one."""
    name = _name("rg")
    assert rm.resource_groups.check_existence(name) is False
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert rm.resource_groups.check_existence(name) is True
    assert _statuses(arm, "HEAD", name) == [404, 204]


def test_get_missing_group_is_resource_group_not_found(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """GET of a missing group: 404 ResourceGroupNotFound."""
    with pytest.raises(ResourceNotFoundError) as info:
        rm.resource_groups.get(_name("missing"))
    assert info.value.error is not None and info.value.error.code == "ResourceGroupNotFound"


def test_group_delete_is_202_deleting_then_gone_with_its_clusters(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """DELETE: 202 + Location; group reads Deleting, refuses PUT, then goes with its clusters."""
    arm.set_group_delete(polls=3)
    arm.set_retry_after(0)
    name, _, _ = _cluster_in_new_group(arm, rm, aks, polls=0)
    rm.resource_groups.begin_delete(name, polling=False)
    assert _statuses(arm, "DELETE", name) == [202]
    deleting = rm.resource_groups.get(name)
    assert deleting.properties is not None and deleting.properties.provisioning_state == "Deleting"
    with pytest.raises(ResourceExistsError) as info:
        rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert info.value.error is not None and info.value.error.code == "ResourceGroupBeingDeleted"
    # Every write into it is refused the same way: a PATCH of the group, a cluster PUT.
    with pytest.raises(ResourceExistsError) as info:
        rm.resource_groups.update(name, {"tags": {"team": "a"}})
    assert info.value.error is not None and info.value.error.code == "ResourceGroupBeingDeleted"
    with pytest.raises(ResourceExistsError) as info:
        _create_cluster(aks, name, "c2")
    assert info.value.error is not None and info.value.error.code == "ResourceGroupBeingDeleted"
    rm.resource_groups.begin_delete(
        name, polling_interval=0.01
    ).result()  # a repeat DELETE, then polls
    assert [c.status for c in arm.calls if "/operationresults/" in c.path] == [202, 202, 200]
    assert rm.resource_groups.check_existence(name) is False
    with pytest.raises(ResourceNotFoundError) as gone:
        aks.managed_clusters.get(name, "c1")
    assert gone.value.error is not None and gone.value.error.code == "ResourceGroupNotFound"


def test_preexisting_group_keeps_location_tags_and_managed_by(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """add_group() seeds a group that reads back with its location, tags and managedBy."""
    arm.set_read_lag(reads=5)  # seeded groups exist already; lag is for new creates only
    arm.add_group(
        "seeded", location="West Europe", tags={"owner": "x"}, managed_by="/subscriptions/x/app"
    )
    group = rm.resource_groups.get("seeded")
    assert (group.location, group.tags, group.managed_by) == (
        "westeurope",
        {"owner": "x"},
        "/subscriptions/x/app",
    )


def test_preexisting_deleting_group_disappears_after_reads(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """A group seeded as Deleting reads Deleting for N reads, then is gone."""
    arm.add_group("leaving", provisioning_state="Deleting", deleting_reads=2)
    states = [rm.resource_groups.get("leaving").properties.provisioning_state for _ in range(2)]  # type: ignore[union-attr]
    assert states == ["Deleting", "Deleting"]
    assert rm.resource_groups.check_existence("leaving") is False


def test_preexisting_deleting_group_disappears_after_seconds(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """A group seeded as Deleting for a time window is gone once the window passes."""
    arm.add_group(
        "leaving", provisioning_state="Deleting", deleting_reads=0, deleting_seconds=WINDOW
    )
    opened = time.monotonic()
    assert rm.resource_groups.check_existence("leaving") is True
    _sleep_past(opened)
    assert rm.resource_groups.check_existence("leaving") is False


# -- propagation lag ------------------------------------------------------------------------


def test_read_lag_hides_new_group_for_n_reads(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """With a read lag of 2, the first GET and HEAD after create answer ResourceGroupNotFound."""
    arm.set_read_lag(reads=2)
    name = _new_group(rm)
    with pytest.raises(ResourceNotFoundError) as info:
        rm.resource_groups.get(name)
    assert info.value.error is not None and info.value.error.code == "ResourceGroupNotFound"
    assert rm.resource_groups.check_existence(name) is False
    assert rm.resource_groups.get(name).name == name


def test_read_lag_per_group_time_window(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """A per-group time window hides only that group, and only until it passes."""
    lagging, prompt = _name("slow"), _name("fast")
    arm.set_read_lag(seconds=WINDOW, group=lagging)
    rm.resource_groups.create_or_update(lagging, {"location": "eastus"})
    opened = time.monotonic()
    rm.resource_groups.create_or_update(prompt, {"location": "eastus"})
    assert rm.resource_groups.check_existence(lagging) is False
    assert rm.resource_groups.check_existence(prompt) is True
    _sleep_past(opened)
    assert rm.resource_groups.check_existence(lagging) is True


def test_aks_lag_immediate_404(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """AKS not seeing a new group yet: its PUT fails at once with 404 ResourceGroupNotFound."""
    name = _name("rg")
    arm.set_aks_lag(failures=1, group=name)
    rm.resource_groups.create_or_update(name, {"location": "eastus"})
    assert rm.resource_groups.get(name).name == name  # ARM itself sees it
    with pytest.raises(ResourceNotFoundError) as info:
        _create_cluster(aks, name, "c1")
    assert info.value.error is not None and info.value.error.code == "ResourceGroupNotFound"
    body, _ = _create_cluster(aks, name, "c1")
    assert body.properties is not None and body.properties.provisioning_state == "Creating"


def test_aks_lag_async_fails_the_operation(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """AKS lag in async mode: the PUT is accepted; its operation fails ResourceGroupNotFound."""
    arm.set_aks_lag(failures=1, mode="async")
    name, _, headers = _cluster_in_new_group(arm, rm, aks, polls=0)
    status = _get(aks, headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Failed"
    assert status["error"]["code"] == "ResourceGroupNotFound"
    assert aks.managed_clusters.get(name, "c1").properties.provisioning_state == "Failed"  # type: ignore[union-attr]
    retried = aks.managed_clusters.begin_create_or_update(
        name, "c1", _cluster_request(), polling_interval=0
    ).result()
    assert retried.properties is not None and retried.properties.provisioning_state == "Succeeded"


# -- managed clusters -----------------------------------------------------------------------


def test_cluster_put_answers_201_creating_with_async_operation(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """PUT: 201 Creating + Azure-AsyncOperation; operation goes InProgress, then Succeeded."""
    name, body, headers = _cluster_in_new_group(arm, rm, aks, polls=2)
    assert _statuses(arm, "PUT", "managedClusters") == [201]
    assert body.properties is not None and body.properties.provisioning_state == "Creating"
    op_url = headers["Azure-AsyncOperation"]
    assert op_url.startswith(
        f"{arm.url}/subscriptions/{SUB}/providers/Microsoft.ContainerService/locations/eastus/operations/"
    )
    # AKS's own operations api-version, and nothing but Azure-AsyncOperation to follow.
    assert op_url.endswith("?api-version=2016-03-30")
    assert "Retry-After" not in headers and "Location" not in headers
    assert [_get(aks, op_url).json()["status"] for _ in range(3)] == [
        "InProgress",
        "InProgress",
        "Succeeded",
    ]
    cluster = aks.managed_clusters.get(name, "c1")
    assert cluster.properties is not None and cluster.properties.provisioning_state == "Succeeded"


def test_cluster_get_observes_the_operation_too(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """A client that watches the cluster, not its operation, still sees the create finish.

    AKS finishes a create whoever polls; a watcher that lost the operation URL (its PUT met
    412 and it read the cluster instead) must not wait forever on ``Creating``.
    """
    name, _, _ = _cluster_in_new_group(arm, rm, aks, polls=2)
    states = [
        aks.managed_clusters.get(name, "c1").properties.provisioning_state  # type: ignore[union-attr]
        for _ in range(3)
    ]
    assert states == ["Creating", "Creating", "Succeeded"]


def test_cluster_body_looks_like_aks(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """The cluster body has tags, fqdn, MC_ group, agent pools, identities, network profile."""
    name = _new_group(rm)
    _create_cluster(aks, name, "c1")
    cluster = aks.managed_clusters.get(name, "c1")
    props = cluster.properties
    assert props is not None
    assert cluster.tags == {"team": "a"}
    assert cluster.type == "Microsoft.ContainerService/ManagedClusters"
    assert props.node_resource_group == f"MC_{name}_c1_eastus"
    assert props.fqdn is not None and props.fqdn.endswith(".hcp.eastus.azmk8s.io")
    assert props.agent_pool_profiles is not None and props.agent_pool_profiles[0].name == "system"
    assert props.network_profile is not None and props.network_profile.service_cidr == "10.0.0.0/16"
    assert cluster.identity is not None and cluster.identity.principal_id
    assert (
        props.identity_profile is not None and props.identity_profile["kubeletidentity"].object_id
    )


def test_cluster_full_polling_succeeds(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """The SDK's own LRO poller follows Azure-AsyncOperation to a Succeeded cluster."""
    arm.set_retry_after(0)
    arm.set_cluster_create(polls=2)
    name = _new_group(rm)
    cluster = aks.managed_clusters.begin_create_or_update(
        name, "c1", _cluster_request(), polling_interval=0.01
    ).result()
    assert cluster.properties is not None and cluster.properties.provisioning_state == "Succeeded"
    assert len([c for c in arm.calls if "/operations/" in c.path]) == 3


def test_cluster_create_time_window(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """A seconds-based create stays InProgress however often it is polled, until the time passes."""
    _, _, headers = _cluster_in_new_group(arm, rm, aks, polls=0, seconds=WINDOW)
    opened = time.monotonic()
    assert {_get(aks, headers["Azure-AsyncOperation"]).json()["status"] for _ in range(4)} == {
        "InProgress"
    }
    _sleep_past(opened)
    assert _get(aks, headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"


def test_cluster_create_failure_outcome(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """A Failed outcome reaches the poller and leaves the cluster Failed; `times` limits it."""
    arm.set_retry_after(0)
    arm.set_cluster_create(
        polls=1, outcome="Failed", error_code="QuotaExceeded", error_message="no cores", times=1
    )
    name = _new_group(rm)
    with pytest.raises(HttpResponseError) as info:
        aks.managed_clusters.begin_create_or_update(
            name, "c1", _cluster_request(), polling_interval=0.01
        ).result()
    assert info.value.error is not None and info.value.error.code == "QuotaExceeded"
    assert aks.managed_clusters.get(name, "c1").properties.provisioning_state == "Failed"  # type: ignore[union-attr]
    again = aks.managed_clusters.begin_create_or_update(
        name, "c1", _cluster_request(), polling_interval=0.01
    ).result()
    assert again.properties is not None and again.properties.provisioning_state == "Succeeded"
    assert _statuses(arm, "PUT", "managedClusters") == [201, 200]


def test_operation_results_location(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """operationresults answers 202 + Location while running and the cluster once done."""
    _, _, headers = _cluster_in_new_group(arm, rm, aks, polls=1)
    results_url = headers["Azure-AsyncOperation"].replace("/operations/", "/operationresults/")
    running = _get(aks, results_url)
    assert running.status_code == 202 and "/operationresults/" in running.headers["Location"]
    _get(aks, headers["Azure-AsyncOperation"])
    _get(aks, headers["Azure-AsyncOperation"])
    done = _get(aks, results_url)
    assert done.status_code == 200 and done.json()["properties"]["provisioningState"] == "Succeeded"


def test_cluster_put_while_creating_is_409(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """A second PUT while the cluster is Creating: 409 OperationNotAllowed."""
    name, _, _ = _cluster_in_new_group(arm, rm, aks, polls=5)
    with pytest.raises(ResourceExistsError) as info:
        _create_cluster(aks, name, "c1")
    assert info.value.status_code == 409
    assert info.value.error is not None and info.value.error.code == "OperationNotAllowed"


def test_if_none_match_on_existing_cluster_is_412(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """match_condition=IfMissing sends If-None-Match: *; an existing cluster answers 412."""
    arm.set_cluster_create(polls=0)
    name = _new_group(rm)
    _create_cluster(aks, name, "c1", match_condition=MatchConditions.IfMissing)
    with pytest.raises(ResourceExistsError) as info:
        _create_cluster(aks, name, "c1", match_condition=MatchConditions.IfMissing)
    assert info.value.status_code == 412
    assert info.value.error is not None and info.value.error.code == "PreconditionFailed"
    puts = [c for c in arm.calls if c.method == "PUT" and "managedClusters" in c.path]
    assert [c.headers.get("If-None-Match") for c in puts] == ["*", "*"]


def test_cluster_get_missing_cluster_and_missing_group(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """GET: ResourceNotFound for a missing cluster, ResourceGroupNotFound for a missing group."""
    name = _new_group(rm)
    with pytest.raises(ResourceNotFoundError) as no_cluster:
        aks.managed_clusters.get(name, "absent")
    with pytest.raises(ResourceNotFoundError) as no_group:
        aks.managed_clusters.get(_name("nogroup"), "absent")
    assert no_cluster.value.error is not None and no_cluster.value.error.code == "ResourceNotFound"
    assert no_group.value.error is not None and no_group.value.error.code == "ResourceGroupNotFound"


def test_cluster_put_into_missing_group_is_404(
    arm: ArmEmulator, aks: ContainerServiceClient
) -> None:
    """A cluster PUT into a group that does not exist: 404 ResourceGroupNotFound."""
    with pytest.raises(ResourceNotFoundError) as info:
        _create_cluster(aks, _name("nogroup"), "c1")
    assert info.value.error is not None and info.value.error.code == "ResourceGroupNotFound"


# -- provider registration ------------------------------------------------------------------


def test_unregistered_subscription_refuses_cluster_put(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """Unregistered Microsoft.ContainerService: the PUT is 409 MissingSubscriptionRegistration."""
    arm.set_unregistered(OTHER_SUB)
    arm.add_group("rg", subscription=OTHER_SUB)
    aks = make_aks(arm, credential, subscription=OTHER_SUB)
    with pytest.raises(ResourceExistsError) as info:
        _create_cluster(aks, "rg", "c1")
    assert (
        info.value.error is not None and info.value.error.code == "MissingSubscriptionRegistration"
    )
    assert "'Microsoft.ContainerService'" in str(info.value.error.message)
    # The LRO's initial response is streamed, so azure-mgmt-core's auto-registration cannot
    # read it: the 409 reaches the caller and nothing registers the provider.
    assert _statuses(arm, "POST", "/register") == []


def test_register_goes_registering_then_registered(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """POST register starts Registering; Registered after the delay; then the AKS PUT works."""
    arm.set_unregistered(OTHER_SUB, polls=2)
    rm = make_rm(arm, credential, subscription=OTHER_SUB)
    aks = make_aks(arm, credential, subscription=OTHER_SUB)
    assert rm.providers.get("Microsoft.ContainerService").registration_state == "NotRegistered"
    assert rm.providers.register("Microsoft.ContainerService").registration_state == "Registering"
    states = [rm.providers.get("Microsoft.ContainerService").registration_state for _ in range(3)]
    assert states == ["Registering", "Registering", "Registered"]
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    body, _ = _create_cluster(aks, "rg", "c1")
    assert body.properties is not None and body.properties.provisioning_state == "Creating"


def test_sdk_auto_registration_policy_registers_and_retries(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """On a plain GET, azure-mgmt-core's policy registers the provider and retries the call."""
    arm.set_unregistered(OTHER_SUB, polls=0)
    arm.add_group("rg", subscription=OTHER_SUB)
    aks = make_aks(arm, credential, subscription=OTHER_SUB)
    with pytest.raises(ResourceNotFoundError) as info:
        aks.managed_clusters.get("rg", "c1")  # the policy sleeps 10 s before its provider GET
    assert info.value.error is not None and info.value.error.code == "ResourceNotFound"
    assert _statuses(arm, "GET", "/managedClusters/c1") == [409, 404]
    assert _statuses(arm, "POST", "/register") == [200]
    assert [
        c.query["api-version"] for c in arm.calls if c.path.endswith("Microsoft.ContainerService")
    ] == ["2016-02-01"]


# -- faults ---------------------------------------------------------------------------------


def test_throttle_fault_answers_429_with_retry_after(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """A throttle fault answers 429 TooManyRequests with Retry-After, once."""
    arm.add_fault("throttle", method="PUT", path="/resourcegroups/", retry_after=7)
    with pytest.raises(HttpResponseError) as info:
        rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    assert info.value.status_code == 429
    assert isinstance(info.value.response, HttpResponse)
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.error is not None and info.value.error.code == "TooManyRequests"
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})


def test_sdk_retry_policy_honours_retry_after(
    arm: ArmEmulator, credential: DefaultAzureCredential
) -> None:
    """With its default retries the SDK waits Retry-After and succeeds on the second try."""
    arm.add_fault("throttle", method="GET", retry_after=1)
    rm = make_rm(arm, credential, retry_total=3)
    arm.add_group("rg")
    started = time.monotonic()
    assert rm.resource_groups.get("rg").name == "rg"
    assert time.monotonic() - started >= 1.0
    assert _statuses(arm, "GET", "/resourcegroups/rg") == [429, 200]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("server_error", 500, "InternalServerError"), ("unavailable", 503, "ServiceUnavailable")],
)
def test_server_faults(
    arm: ArmEmulator, rm: ResourceManagementClient, kind: str, status: int, code: str
) -> None:
    """500 and 503 faults answer ARM error bodies with the matching code."""
    arm.add_fault(kind, path="resourcegroups")  # type: ignore[arg-type]
    with pytest.raises(HttpResponseError) as info:
        rm.resource_groups.get("rg")
    assert info.value.status_code == status
    assert info.value.error is not None and info.value.error.code == code


def test_unauthorized_fault(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """A 401 fault refuses a valid token with InvalidAuthenticationToken."""
    arm.add_fault("unauthorized")
    with pytest.raises(ClientAuthenticationError) as info:
        rm.resource_groups.get("rg")
    assert info.value.error is not None and info.value.error.code == "InvalidAuthenticationToken"


def test_forbidden_fault_names_action_and_scope(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """403 AuthorizationFailed names the denied action (lowercase, as ARM writes it) and scope."""
    arm.add_fault("forbidden", method="PUT", path="/resourcegroups/[^/]+$")
    with pytest.raises(HttpResponseError) as info:
        rm.resource_groups.create_or_update("denied", {"location": "eastus"})
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "AuthorizationFailed"
    assert "'Microsoft.Resources/subscriptions/resourcegroups/write'" in str(
        info.value.error.message
    )
    assert f"'/subscriptions/{SUB}/resourcegroups/denied'" in str(info.value.error.message)


def test_policy_fault_names_the_resource_and_policy_identifiers(
    arm: ArmEmulator, rm: ResourceManagementClient, aks: ContainerServiceClient
) -> None:
    """403 RequestDisallowedByPolicy names the resource and the policy identifiers (with the
    same in additionalInfo), and no action or scope, as ARM's deny does."""
    arm.add_group("rg")
    arm.add_fault("policy", method="PUT", path="managedClusters")
    with pytest.raises(HttpResponseError) as info:
        _create_cluster(aks, "rg", "c1")
    assert info.value.status_code == 403
    error = info.value.error
    assert error is not None and error.code == "RequestDisallowedByPolicy"
    message = str(error.message)
    assert message.startswith("Resource 'c1' was disallowed by policy. Policy identifiers: '[")
    assert "policyAssignments/" in message and "policyDefinitions/" in message
    assert "action '" not in message and "over scope" not in message
    assert error.target == "c1"
    assert info.value.response is not None
    (violation,) = json.loads(info.value.response.text())["error"]["additionalInfo"]
    assert violation["type"] == "PolicyViolation"
    assert violation["info"]["policyDefinitionEffect"] == "deny"
    assert violation["info"]["policyAssignmentId"] in message


def test_dropped_connection_fault(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """A drop fault closes the connection without an answer; the next call works."""
    arm.add_fault("drop", method="GET", times=1)
    arm.add_group("rg")
    with pytest.raises(ServiceResponseError):
        rm.resource_groups.get("rg")
    assert rm.resource_groups.get("rg").name == "rg"
    assert _statuses(arm, "GET", "/resourcegroups/rg") == [0, 200]


def test_fault_matches_only_its_method_and_path_and_count(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """A fault fires only on its method and path, and only `times` times."""
    arm.add_fault("server_error", method="DELETE", path="/resourcegroups/doomed$", times=2)
    arm.add_group("doomed")
    assert rm.resource_groups.get("doomed").name == "doomed"
    for _ in range(2):
        with pytest.raises(HttpResponseError):
            rm.resource_groups.begin_delete("doomed", polling=False)
    rm.resource_groups.begin_delete("doomed", polling=False)
    assert _statuses(arm, "DELETE", "doomed") == [500, 500, 202]


# -- call log, reset, admin, CLI ------------------------------------------------------------


def test_call_log_records_request(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """The call log keeps time, method, path, query, status, JSON body and selected headers."""
    before = time.time()
    rm.resource_groups.create_or_update("logged", {"location": "eastus", "tags": {"k": "v"}})
    (call,) = arm.calls
    assert before <= call.time <= time.time()
    assert (call.method, call.path, call.status) == (
        "PUT",
        f"/subscriptions/{SUB}/resourcegroups/logged",
        201,
    )
    assert call.query == {"api-version": RG_VERSION}
    assert call.body == {"location": "eastus", "tags": {"k": "v"}}
    assert call.headers["Content-Type"].startswith("application/json")


def test_reset_clears_everything(arm: ArmEmulator, rm: ResourceManagementClient) -> None:
    """reset() forgets groups, scenarios, faults, calls and token counts."""
    arm.set_read_lag(reads=3)
    arm.add_fault("server_error", method="HEAD", times=None)
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    arm.reset()
    assert (arm.calls, arm.token_fetches) == ([], {})
    assert rm.resource_groups.check_existence("rg") is False
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    assert rm.resource_groups.check_existence("rg") is True


def test_admin_routes_set_scenarios_and_show_calls(
    arm: ArmEmulator, rm: ResourceManagementClient
) -> None:
    """/_admin/scenario applies setters, /_admin/calls lists calls, /_admin/reset clears."""
    verify = str(arm.ca_pem)
    step: dict[str, Any] = {"setter": "set_read_lag", "args": {"reads": 1}}
    assert (
        requests.post(
            f"{arm.url}/_admin/scenario", json=[step], verify=verify, timeout=5
        ).status_code
        == 204
    )
    rm.resource_groups.create_or_update("rg", {"location": "eastus"})
    assert rm.resource_groups.check_existence("rg") is False
    calls = requests.get(f"{arm.url}/_admin/calls", verify=verify, timeout=5).json()["calls"]
    assert [(c["method"], c["status"]) for c in calls] == [("PUT", 201), ("HEAD", 404)]
    bad = requests.post(
        f"{arm.url}/_admin/scenario", json={"setter": "os.system"}, verify=verify, timeout=5
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "InvalidScenario")
    assert requests.post(f"{arm.url}/_admin/reset", verify=verify, timeout=5).status_code == 204
    assert arm.calls == []


def test_standalone_cli_prints_environment_and_serves(tmp_path: Any) -> None:
    """`python -m localazure.arm` prints the env to export, applies flags and serves."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "localazure.arm",
            "--cert-dir",
            str(tmp_path),
            "--rg-hidden-reads",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(4)]
        exported = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        assert set(exported) == {
            "ARM_ENDPOINT",
            "REQUESTS_CA_BUNDLE",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
        }
        url = exported["ARM_ENDPOINT"]
        token = fetch_arm_token(exported, timeout=5)
        auth = {"Authorization": f"Bearer {token}"}
        group_url = f"{url}/subscriptions/{SUB}/resourcegroups/rg?api-version={RG_VERSION}"
        verify = exported["REQUESTS_CA_BUNDLE"]
        assert (
            requests.put(
                group_url, json={"location": "eastus"}, headers=auth, verify=verify, timeout=5
            ).status_code
            == 201
        )
        assert requests.get(group_url, headers=auth, verify=verify, timeout=5).status_code == 404
        assert requests.get(group_url, headers=auth, verify=verify, timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
