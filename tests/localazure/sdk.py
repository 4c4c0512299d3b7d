"""SDK clients and helpers the ARM emulator's tests share (fixtures re-exported by conftest)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.rest import HttpRequest, HttpResponse
from azure.identity import DefaultAzureCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.resource.resources import ResourceManagementClient

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator

SUB = DEFAULT_SUBSCRIPTION
OTHER_SUB = "11111111-1111-1111-1111-111111111111"
AKS_VERSION = "2026-08-01"
RG_VERSION = "2025-04-01"

# Variables that would steer DefaultAzureCredential to another credential.
OTHER_CREDENTIAL_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_TOKEN_CREDENTIALS",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)


@pytest.fixture
def env(arm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in OTHER_CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in arm_env.items():
        monkeypatch.setenv(name, value)
    return arm_env


@pytest.fixture
def credential(env: dict[str, str]) -> Iterator[DefaultAzureCredential]:
    cred = DefaultAzureCredential()
    with cred:
        yield cred


def make_rm(arm: ArmEmulator, credential: Any, **kwargs: Any) -> ResourceManagementClient:
    kwargs.setdefault("credential_scopes", [f"{arm.url}/.default"])
    kwargs.setdefault("retry_total", 0)
    return ResourceManagementClient(
        credential, kwargs.pop("subscription", SUB), base_url=arm.url, **kwargs
    )


def make_aks(arm: ArmEmulator, credential: Any, **kwargs: Any) -> ContainerServiceClient:
    kwargs.setdefault("credential_scopes", [f"{arm.url}/.default"])
    kwargs.setdefault("retry_total", 0)
    return ContainerServiceClient(
        credential, kwargs.pop("subscription", SUB), base_url=arm.url, **kwargs
    )


@pytest.fixture
def rm(arm: ArmEmulator, credential: DefaultAzureCredential) -> ResourceManagementClient:
    return make_rm(arm, credential)


@pytest.fixture
def aks(arm: ArmEmulator, credential: DefaultAzureCredential) -> ContainerServiceClient:
    return make_aks(arm, credential)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _cluster_request(**tags: str) -> ManagedCluster:
    return ManagedCluster(
        {
            "location": "eastus",
            "tags": tags,
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "dnsPrefix": "demo",
                "agentPoolProfiles": [
                    {"name": "system", "count": 1, "vmSize": "Standard_D2s_v5", "mode": "System"}
                ],
            },
        }
    )


def _create_cluster(
    aks: ContainerServiceClient, group: str, name: str, **kwargs: Any
) -> tuple[ManagedCluster, Any]:
    """Start a cluster create without polling; returns the body and the response headers."""
    poller = aks.managed_clusters.begin_create_or_update(
        group,
        name,
        _cluster_request(team="a"),
        polling=False,
        cls=lambda response, body, _: (body, response.http_response.headers),
        **kwargs,
    )
    # `cls` turns the poller's result into a tuple; its type hint does not know that.
    result: tuple[ManagedCluster, Any] = poller.result()  # type: ignore[assignment]
    return result


def _get(
    client: ResourceManagementClient | ContainerServiceClient, url: str, **headers: str
) -> HttpResponse:
    return client.send_request(HttpRequest("GET", url, headers=headers))


def _statuses(arm: ArmEmulator, method: str, fragment: str) -> list[int]:
    return [
        c.status for c in arm.calls if c.method == method and fragment.lower() in c.path.lower()
    ]
