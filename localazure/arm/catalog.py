"""What the emulated Azure offers: api-versions, regions, VM sizes, Kubernetes versions, quota.

These are the defaults; each test may change them through the scenario setters, and ``reset()``
restores them. The sources of every fact are listed in docs/emulator.md.
"""

from __future__ import annotations

# The pinned SDKs send the first version of each list (tests/localazure/test_catalog_matches_sdks.py
# fails when an SDK moves and these lists do not); the rest are real, older ones that ARM also
# accepts, so hand-written calls from docs keep working.
RESOURCES_API_VERSIONS = (
    "2025-04-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2022-09-01",
    "2021-04-01",
    # azure-mgmt-core's auto-registration policy registers providers with this one.
    "2016-02-01",
)
AKS_API_VERSIONS = (
    "2026-08-01",
    "2025-10-01",
    "2025-07-01",
    "2025-05-01",
    "2024-10-01",
    "2024-09-01",
    "2024-05-01",
    "2017-08-31",
)
# The first stable AKS api-version whose spec declares If-Match / If-None-Match on the managed
# cluster PUT (stable/2024-10-01/managedClusters.json); stable/2024-09-01 declares neither, and AKS
# ignores headers its api-version does not define.
AKS_CONDITIONAL_HEADERS_FROM = "2024-10-01"
# AKS writes its Azure-AsyncOperation URLs with this api-version, whatever the PUT used.
AKS_OPERATIONS_API_VERSION = "2016-03-30"

# Display names, as the provider's resourceTypes list them.
LOCATIONS = ("East US", "East US 2", "West Europe", "North Europe", "West US 2", "UK South")


def short_location(location: str) -> str:
    """ARM accepts "East US" and "eastus" alike and answers with the short form."""
    return location.replace(" ", "").lower()


def declares_conditional_headers(api_version: str) -> bool:
    # Stable api-versions are ISO dates, so string order is date order.
    return api_version >= AKS_CONDITIONAL_HEADERS_FROM


# AKS accepts MAJOR.MINOR (latest patch) or an exact MAJOR.MINOR.PATCH it offers in the region.
KUBERNETES_VERSIONS = ("1.31.11", "1.32.7", "1.33.3", "1.34.1")
DEFAULT_KUBERNETES_VERSION = "1.33.3"


def kubernetes_version_offered(requested: str, offered: tuple[str, ...]) -> str | None:
    """The full version AKS would run for ``requested`` in a region, or None if not offered."""
    if requested.count(".") == 1:
        patches = [v for v in offered if v.startswith(requested + ".")]
        return max(patches, key=lambda v: int(v.rsplit(".", 1)[1])) if patches else None
    return requested if requested in offered else None
