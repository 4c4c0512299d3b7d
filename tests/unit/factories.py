"""Small builders of plain test data for the unit tests: records, requests, settings, groups.

Everything here is pure: fixed datetimes, no clock, no environment, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from provisioning.contract import ClusterRequest, ClusterSpec
from provisioning.settings import Settings
from provisioning.status import Phase, StatusRecord
from provisioning.views import GroupView

REQUEST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
SUBSCRIPTION = "7d2a1e4c-3b5f-4c8e-9a1d-2f6b8c0e4a17"
OTHER_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
GROUP_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-team-a"
CLUSTER_ID = f"{GROUP_ID}/providers/Microsoft.ContainerService/managedClusters/aks-team-a"
T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
# The status API's fields the SPA depends on (StatusRecord.to_api; extras may follow).
API_FIELDS = (
    "request_id",
    "phase",
    "attempt",
    "max_attempts",
    "resource_group",
    "cluster_name",
    "updated_at",
    "error",
)


def make_settings(**overrides: str) -> Settings:
    """Settings as ``from_env`` builds them, with SUBSCRIPTION allowed unless overridden."""
    env = {"ALLOWED_SUBSCRIPTIONS": SUBSCRIPTION, **overrides}
    return Settings.from_env(env)


# The attempts a record gets under the default settings (``RG_VISIBILITY_ATTEMPTS``).
MAX_ATTEMPTS = make_settings().rg_visibility_attempts


def make_request(
    *,
    subscription_id: str = SUBSCRIPTION,
    resource_group: str = "rg-team-a",
    location: str = "westeurope",
    name: str = "aks-team-a",
    node_count: int = 3,
    vm_size: str = "Standard_D4s_v5",
    kubernetes_version: str | None = "1.31",
    tags: Mapping[str, str] | None = None,
) -> ClusterRequest:
    """A valid, already-normalised request (as ``parse_request`` would return it)."""
    return ClusterRequest(
        request_id=REQUEST_ID,
        subscription_id=subscription_id,
        resource_group=resource_group,
        location=location,
        cluster=ClusterSpec(
            name=name,
            kubernetes_version=kubernetes_version,
            node_count=node_count,
            vm_size=vm_size,
        ),
        tags=tuple(sorted((tags if tags is not None else {"team": "a"}).items())),
    )


def make_record(**changes: Any) -> StatusRecord:
    """A fresh record in ``ensuring_resource_group`` at attempt 1, with ``changes`` applied."""
    record = StatusRecord(
        request_id=REQUEST_ID,
        phase=Phase.ENSURING_RESOURCE_GROUP,
        subscription_id=SUBSCRIPTION,
        resource_group="rg-team-a",
        cluster_name="aks-team-a",
        location="westeurope",
        fingerprint="f" * 64,
        request_json='{"request_id": "' + REQUEST_ID + '"}',
        created_at=T0,
        updated_at=T0,
    )
    return replace(record, **changes)


def group(
    state: str | None = "Succeeded",
    *,
    exists: bool = True,
    tags: Mapping[str, str] | None = None,
) -> GroupView:
    """A resource group as ``Arm.get_group`` reports it (tagged as ours unless told)."""
    if not exists:
        return GroupView(exists=False)
    own = {"managed-by": "aks-provisioner", "request_id": REQUEST_ID}
    return GroupView(
        exists=True, state=state, tags=dict(own if tags is None else tags), id=GROUP_ID
    )


def body_size(document: Mapping[str, Any]) -> int:
    """The UTF-8 bytes of ``document`` as the SPA sends it (JSON, non-ASCII as itself)."""
    return len(json.dumps(document, ensure_ascii=False).encode("utf-8"))


def non_ascii_at_limit(document: Mapping[str, Any], limit: int = 16 * 1024) -> dict[str, Any]:
    """``document`` with tags of emoji added until the body is within a few bytes of ``limit``
    (the contract's 16 KiB): the worst case for a store that escapes non-ASCII (12 UTF-16
    bytes of escape per 4 bytes of emoji)."""
    tags: dict[str, str] = {}
    index = 0
    while True:  # whole tags: a name and a value at ARM's limits (counted in UTF-16 units)
        candidate = {**tags, f"t{index:02d}" + "🌍" * 100: "🚀" * 128}
        if body_size({**document, "tags": candidate}) > limit:
            break
        tags, index = candidate, index + 1
    value = ""
    name = f"t{index:02d}"
    while (
        len(value) < 128 and body_size({**document, "tags": {**tags, name: value + "🚀"}}) <= limit
    ):
        value += "🚀"
    return {**document, "tags": {**tags, name: value}}
