"""The emulator's read-only routes for preflight: permissions, compute usages and SKUs."""

from __future__ import annotations

from typing import Any

import requests

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.tokens import mint_token

SUB = f"/subscriptions/{DEFAULT_SUBSCRIPTION}"


def _get(arm: ArmEmulator, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{arm.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {mint_token(arm.url)}"},
        verify=str(arm.ca_pem),
        timeout=10,
    )


def _usage(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rows if r["name"]["value"] == name)


def test_permissions_in_the_real_shape(arm: ArmEmulator) -> None:
    """2022-04-01 lists actions, notActions and the data-action lists; the setter replaces them."""
    path = f"{SUB}/providers/Microsoft.Authorization/permissions"
    default = _get(arm, path, **{"api-version": "2022-04-01"}).json()["value"]
    assert default[0]["actions"] == ["*"]
    assert "Microsoft.Authorization/*/Write" in default[0]["notActions"]
    assert set(default[0]) == {"actions", "notActions", "dataActions", "notDataActions"}
    arm.set_permissions(["*/read"], not_actions=["Microsoft.Web/*/read"])
    old = _get(arm, path, **{"api-version": "2015-07-01"}).json()["value"]
    assert old == [{"actions": ["*/read"], "notActions": ["Microsoft.Web/*/read"]}]
    refused = _get(arm, path, **{"api-version": "2099-01-01"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "InvalidApiVersionParameter"


def test_usages_count_the_emulated_clusters(arm: ArmEmulator) -> None:
    """Usage is the set base plus the emulator's own clusters' nodes in that region only."""
    arm.set_vcpu_quota("westeurope", "standardDSv5Family", limit=40, used=6)
    token = {"Authorization": f"Bearer {mint_token(arm.url)}"}
    group = f"{SUB}/resourcegroups/rg-quota"
    puts: list[tuple[str, dict[str, Any], str]] = [
        (group, {"location": "westeurope"}, "2025-04-01"),
        (
            f"{group}/providers/Microsoft.ContainerService/managedClusters/aks-q",
            {
                "location": "westeurope",
                "properties": {
                    "dnsPrefix": "aks-q",
                    "agentPoolProfiles": [
                        {"name": "sys", "mode": "System", "count": 3, "vmSize": "Standard_D4s_v5"}
                    ],
                },
            },
            "2026-08-01",
        ),
    ]
    for path, body, version in puts:
        answer = requests.put(
            f"{arm.url}{path}",
            params={"api-version": version},
            json=body,
            headers=token,
            verify=str(arm.ca_pem),
            timeout=10,
        )
        assert answer.status_code in (200, 201), answer.text
    usages = f"{SUB}/providers/Microsoft.Compute/locations/westeurope/usages"
    rows = _get(arm, usages, **{"api-version": "2024-07-01"}).json()["value"]
    family = _usage(rows, "standardDSv5Family")
    assert (family["currentValue"], family["limit"], family["unit"]) == (6 + 12, 40, "Count")
    assert family["name"]["localizedValue"] == "Standard DSv5 Family vCPUs"
    assert _usage(rows, "cores")["currentValue"] == 12
    elsewhere = f"{SUB}/providers/Microsoft.Compute/locations/eastus/usages"
    rows = _get(arm, elsewhere, **{"api-version": "2024-07-01"}).json()["value"]
    assert _usage(rows, "standardDSv5Family")["currentValue"] == 0


def test_skus_filtered_by_location_with_restrictions(arm: ArmEmulator) -> None:
    """``$filter=location eq 'x'`` lists that region's sizes; a restricted one says why."""
    arm.restrict_vm_size("eastus", "Standard_D4s_v5")
    path = f"{SUB}/providers/Microsoft.Compute/skus"
    skus = _get(arm, path, **{"api-version": "2021-07-01", "$filter": "location eq 'eastus'"})
    value = skus.json()["value"]
    assert {s["locations"][0] for s in value} == {"eastus"}
    d4 = next(s for s in value if s["name"] == "Standard_D4s_v5")
    assert d4["family"] == "standardDSv5Family"
    assert {"name": "vCPUs", "value": "4"} in d4["capabilities"]
    assert d4["restrictions"][0]["reasonCode"] == "NotAvailableForSubscription"
    skus = _get(arm, path, **{"api-version": "2021-07-01", "$filter": "location eq 'westeurope'"})
    d4 = next(s for s in skus.json()["value"] if s["name"] == "Standard_D4s_v5")
    assert d4["restrictions"] == []
