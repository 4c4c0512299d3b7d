"""Compute's regional reads: resource SKUs (VM sizes) and vCPU usage against quota.

Usage is the scenario's ``used`` plus every emulated cluster's nodes in the region, so a
subscription fills up as the emulator creates clusters, as a real one does. Quotas default to
a generous limit; ``set_vcpu_quota`` tightens one family (or ``cores``, the regional total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.catalog import LOCATIONS
from localazure.arm.store import Store, normalize_location
from localazure.arm.wire import Exchange

USAGES_API_VERSIONS = ["2024-07-01", "2024-03-01", "2023-09-01", "2023-03-01"]
SKUS_API_VERSIONS = ["2021-07-01", "2019-04-01"]
DEFAULT_VCPU_LIMIT = 1000
TOTAL = "cores"
TOTAL_NAME = "Total Regional vCPUs"


@dataclass(frozen=True)
class VmSize:
    """A VM size as the resource SKUs API describes it (the capabilities the app cares about)."""

    name: str
    family: str
    family_name: str
    vcpus: int
    memory_gb: float


# Real sizes and families (Azure's VM size pages; family names as the usages API spells them).
VM_SIZES = (
    VmSize("Standard_B1s", "standardBSFamily", "Standard BS Family vCPUs", 1, 1),
    VmSize("Standard_B2s", "standardBSFamily", "Standard BS Family vCPUs", 2, 4),
    VmSize("Standard_A1_v2", "standardAv2Family", "Standard Av2 Family vCPUs", 1, 2),
    VmSize("Standard_DS1_v2", "standardDSv2Family", "Standard DSv2 Family vCPUs", 1, 3.5),
    VmSize("Standard_DS2_v2", "standardDSv2Family", "Standard DSv2 Family vCPUs", 2, 7),
    VmSize("Standard_D2s_v5", "standardDSv5Family", "Standard DSv5 Family vCPUs", 2, 8),
    VmSize("Standard_D4s_v5", "standardDSv5Family", "Standard DSv5 Family vCPUs", 4, 16),
    VmSize("Standard_D8s_v5", "standardDSv5Family", "Standard DSv5 Family vCPUs", 8, 32),
    VmSize("Standard_D4ds_v5", "standardDDSv5Family", "Standard DDSv5 Family vCPUs", 4, 16),
    VmSize("Standard_E4s_v5", "standardESv5Family", "Standard ESv5 Family vCPUs", 4, 32),
    VmSize("Standard_F4s_v2", "standardFSv2Family", "Standard FSv2 Family vCPUs", 4, 8),
    VmSize("Standard_D2as_v5", "standardDASv5Family", "Standard DASv5 Family vCPUs", 2, 8),
    VmSize("Standard_D4as_v5", "standardDASv5Family", "Standard DASv5 Family vCPUs", 4, 16),
    VmSize("Standard_D8as_v5", "standardDASv5Family", "Standard DASv5 Family vCPUs", 8, 32),
)
SIZES_BY_NAME = {size.name.lower(): size for size in VM_SIZES}


def vcpus_in_use(store: Store, subscription: str, location: str) -> dict[str, int]:
    """vCPUs the emulated clusters of ``subscription`` hold in ``location``, per family."""
    used: dict[str, int] = {}
    for cluster in store.state.clusters.values():
        if cluster.subscription.lower() != subscription.lower():
            continue
        if normalize_location(cluster.location) != normalize_location(location):
            continue
        for family, cores in pools_vcpus(cluster.body).items():
            used[family] = used.get(family, 0) + cores
    return used


def pools_vcpus(body: dict[str, Any]) -> dict[str, int]:
    """vCPUs a managed cluster body's agent pools hold, per family and in total (``cores``)."""
    used: dict[str, int] = {}
    for pool in body.get("properties", {}).get("agentPoolProfiles") or ():
        size = SIZES_BY_NAME.get(str(pool.get("vmSize", "")).lower())
        if size is not None:
            cores = size.vcpus * int(pool.get("count") or 0)
            used[size.family] = used.get(size.family, 0) + cores
            used[TOTAL] = used.get(TOTAL, 0) + cores
    return used


def usages(store: Store, subscription: str, location: str) -> list[dict[str, Any]]:
    """The usages list: the regional total first, then one row per family."""
    region = normalize_location(location)
    quotas = store.state.quotas.get(region, {})
    in_use = vcpus_in_use(store, subscription, region)
    names = {TOTAL: TOTAL_NAME} | {s.family: s.family_name for s in VM_SIZES}
    rows = []
    for family, localized in names.items():
        limit, used = quotas.get(family, (DEFAULT_VCPU_LIMIT, 0))
        rows.append(
            {
                "unit": "Count",
                "currentValue": used + in_use.get(family, 0),
                "limit": limit,
                "name": {"value": family, "localizedValue": localized},
            }
        )
    return rows


def sku_body(size: VmSize, location: str, restricted: bool) -> dict[str, Any]:
    restrictions = []
    if restricted:
        restrictions.append(
            {
                "type": "Location",
                "values": [location],
                "restrictionInfo": {"locations": [location]},
                "reasonCode": "NotAvailableForSubscription",
            }
        )
    return {
        "resourceType": "virtualMachines",
        "name": size.name,
        "tier": "Standard",
        "size": size.name.removeprefix("Standard_"),
        "family": size.family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": ["1", "2", "3"]}],
        "capabilities": [
            {"name": "vCPUs", "value": str(size.vcpus)},
            {"name": "MemoryGB", "value": f"{size.memory_gb:g}"},
        ],
        "restrictions": restrictions,
    }


def handle_usages(store: Store, ex: Exchange, sub: str, location: str) -> Response:
    ex.require_api_version(USAGES_API_VERSIONS, "locations/usages")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    return ex.respond(200, {"value": usages(store, sub, location)})


def handle_skus(store: Store, ex: Exchange, sub: str) -> Response:
    ex.require_api_version(SKUS_API_VERSIONS, "skus")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    wanted = _filtered_location(ex)
    regions = [normalize_location(x) for x in LOCATIONS]
    if wanted is not None:
        regions = [r for r in regions if r == wanted]
    value = [
        sku_body(size, region, (region, size.name.lower()) in store.state.restricted_sizes)
        for region in regions
        for size in VM_SIZES
    ]
    return ex.respond(200, {"value": value})


def _filtered_location(ex: Exchange) -> str | None:
    """``$filter=location eq 'westus'``, the only filter the SKUs API takes."""
    text = next((v for k, v in ex.request.args.items() if k.lower() == "$filter"), None)
    if not text:
        return None
    field, _, value = text.partition(" eq ")
    if field.strip().lower() != "location" or not value.strip():
        raise errors.invalid_request_content(f"unsupported $filter {text!r}")
    return normalize_location(value.strip().strip("'"))
