"""Preflight judgements: plain data about a subscription in, one row per check out. Pure.

``python -m provisioning preflight`` gathers the data (``preflight_probe``) and prints the rows
this module computes. Every failing row says how to fix it with the exact ``az`` command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from provisioning.contract import normalise_location

# The six actions of the app's custom role (infra/main.bicep, "provisionerRole"); a test keeps
# the two lists equal. Provider registration is deliberately not among them: an admin registers
# Microsoft.ContainerService once per subscription (README, "Before the first deployment").
REQUIRED_ACTIONS = (
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Resources/subscriptions/resourceGroups/write",
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.ContainerService/locations/operations/read",
    "Microsoft.ContainerService/locations/operationresults/read",
)
CONTAINER_SERVICE = "Microsoft.ContainerService"
# Resource types the app uses in a region: the cluster, and its long-running operation.
AKS_TYPES = ("managedClusters", "locations/operations")


class Outcome(Enum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Check:
    """One row of the preflight table."""

    name: str
    outcome: Outcome
    result: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Permission:
    """One entry of ``Microsoft.Authorization/permissions``: what a role assignment grants."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> Permission:
        return cls(
            tuple(str(a) for a in entry.get("actions") or ()),
            tuple(str(a) for a in entry.get("notActions") or ()),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """One row of the compute usages API: a quota (``cores`` or a VM family's vCPUs)."""

    name: str
    current: int
    limit: int

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> Usage:
        name = entry.get("name") or {}
        return cls(str(name.get("value", "")), int(entry["currentValue"]), int(entry["limit"]))


@dataclass(frozen=True, slots=True)
class VmSku:
    """What the resource SKUs API says of one VM size in one region."""

    name: str
    family: str
    vcpus: int
    restricted: bool = False


def _pattern(action: str) -> re.Pattern[str]:
    # RBAC action strings are case-insensitive and '*' matches any run of characters.
    return re.compile(".*".join(re.escape(part) for part in action.split("*")), re.IGNORECASE)


def allows(permissions: Iterable[Permission], action: str) -> bool:
    """Whether some entry grants ``action`` and does not exclude it (notActions are per entry)."""
    for entry in permissions:
        granted = any(_pattern(a).fullmatch(action) for a in entry.actions)
        if granted and not any(_pattern(n).fullmatch(action) for n in entry.not_actions):
            return True
    return False


def _type(entry: Mapping[str, Any]) -> str:
    return str(entry.get("resourceType", "")).lower()


def registration_check(subscription: str, state: str | None) -> Check:
    name = f"provider registered ({subscription})"
    if state == "Registered":
        return Check(name, Outcome.OK, f"{CONTAINER_SERVICE} is Registered")
    return Check(
        name,
        Outcome.FAILED,
        f"{CONTAINER_SERVICE} is {state or 'unknown'}; every cluster create would wait for it",
        f"az provider register --namespace {CONTAINER_SERVICE} --subscription {subscription}",
    )


def api_version_check(
    subscription: str,
    resource_types: Sequence[Mapping[str, Any]],
    api_version: str,
    allowed_locations: Iterable[str],
) -> Check:
    """The SDK's AKS api-version for clusters, and every allowed region for both AKS types.

    ARM lists one entry per resource type: the regions that offer it and the union of their
    api-versions. So this catches a version no region offers and a region that offers none; a
    region that offers the type but not this version shows only as NoRegisteredProviderFound.
    """
    name = f"AKS api-version {api_version} ({subscription})"
    wanted = sorted({normalise_location(x) for x in allowed_locations})
    problems: list[str] = []
    for type_name in AKS_TYPES:
        entry = next(
            (t for t in resource_types if _type(t) == type_name.lower()),
            None,
        )
        if entry is None:
            problems.append(f"{type_name} is not listed")
            continue
        versions = {str(v) for v in entry.get("apiVersions") or ()}
        # Only the cluster PUT/GET use the SDK's version; the operation URL carries the one AKS
        # wrote into it (2016-03-30), which the app does not choose.
        if type_name == "managedClusters" and api_version not in versions:
            problems.append(f"{type_name} does not offer {api_version}")
        offered = {normalise_location(str(x)) for x in entry.get("locations") or ()}
        missing = [x for x in wanted if x not in offered]
        if missing:
            problems.append(f"{type_name} is not offered in {', '.join(missing)}")
    if problems:
        return Check(
            name,
            Outcome.FAILED,
            "; ".join(problems),
            "see what is offered: az provider show --namespace Microsoft.ContainerService "
            "--query \"resourceTypes[?resourceType=='managedClusters']"
            '.{locations:locations,apiVersions:apiVersions}" -o json; then remove the region '
            "from ALLOWED_LOCATIONS (az functionapp config appsettings set --name <app> "
            "--resource-group <group> --settings ALLOWED_LOCATIONS=...) or pin "
            "azure-mgmt-containerservice to a version whose api-version the region offers",
        )
    if not wanted:
        return Check(
            name,
            Outcome.WARNING,
            f"{api_version} is offered; ALLOWED_LOCATIONS is empty, so no region was checked",
            "az functionapp config appsettings set --name <app> --resource-group <group> "
            "--settings ALLOWED_LOCATIONS=<region>,<region>",
        )
    return Check(name, Outcome.OK, f"offered in {', '.join(wanted)}")


def permissions_check(
    subscription: str, permissions: Sequence[Permission], client_id: str | None
) -> Check:
    name = f"permissions ({subscription})"
    missing = [a for a in REQUIRED_ACTIONS if not allows(permissions, a)]
    if not missing:
        return Check(name, Outcome.OK, f"all {len(REQUIRED_ACTIONS)} actions the app needs")
    assignee = client_id or "<the app identity's client id>"
    return Check(
        name,
        Outcome.FAILED,
        f"missing {len(missing)} of {len(REQUIRED_ACTIONS)}: {', '.join(missing)}",
        f'az role assignment create --assignee {assignee} --role "AKS Provisioner '
        f'(<environmentName>)" --scope /subscriptions/{subscription}  (the role infra/main.bicep '
        f"defines; list what is assigned: az role assignment list --assignee {assignee} --all)",
    )


def unreadable_check(name: str, what: str, error: str, fix: str) -> Check:
    """A check whose data could not be read at all (denied, not found, unreachable)."""
    return Check(name, Outcome.FAILED, f"could not read {what}: {error}", fix)


def storage_check(
    kind: str, name: str, account: str, error: str | None, *, missing: bool = False
) -> Check:
    """Reachability of one queue or table with ``AzureWebJobsStorage``."""
    check = f"{kind} {name}"
    create = f"az storage {kind} create --name {name} --account-name {account} --auth-mode login"
    if error is not None:
        data_role = "Queue" if kind == "queue" else "Table"
        return Check(
            check,
            Outcome.FAILED,
            f"not reachable with AzureWebJobsStorage: {error}",
            f"az role assignment create --assignee <the app identity's client id> --role "
            f'"Storage {data_role} Data Contributor" --scope <the storage account\'s resource id>',
        )
    if missing:
        return Check(check, Outcome.FAILED, "reachable, but it does not exist", create)
    return Check(check, Outcome.OK, "reachable")


def unavailable_sizes_check(location: str, sizes: Sequence[str]) -> Check:
    """Allowed VM sizes the region does not offer the subscription: a warning (requests for
    them there fail at AKS)."""
    region = normalise_location(location)
    return Check(
        f"VM sizes in {region}",
        Outcome.WARNING,
        f"not offered or restricted in {region}: {', '.join(sizes)}",
        f"az vm list-skus --location {region} --size {sizes[0]} --all -o table; narrow "
        "ALLOWED_VM_SIZES (az functionapp config appsettings set ... --settings "
        "ALLOWED_VM_SIZES=...)",
    )


def quota_check(
    subscription: str,
    location: str,
    family: str,
    skus: Sequence[VmSku],
    usages: Sequence[Usage],
    nodes: int,
) -> Check:
    """vCPU headroom in one family (and the regional total) for ``nodes`` nodes of the family's
    largest allowed size: a warning, since usage changes by the minute."""
    region = normalise_location(location)
    name = f"vCPU quota {family} in {region}"
    largest = max(skus, key=lambda sku: sku.vcpus)
    needed = largest.vcpus * nodes
    by_name = {u.name.lower(): u for u in usages}
    short_of: list[str] = []
    for quota in (family, "cores"):
        usage = by_name.get(quota.lower())
        if usage is not None and usage.limit - usage.current < needed:
            short_of.append(f"{quota} {usage.current}/{usage.limit} used")
    if short_of:
        return Check(
            name,
            Outcome.WARNING,
            f"{nodes} x {largest.name} ({needed} vCPUs) do not fit: {'; '.join(short_of)}",
            f"az quota update --resource-name {family} --scope /subscriptions/{subscription}/"
            f"providers/Microsoft.Compute/locations/{region} --limit-object value=<vCPUs> "
            "--resource-type dedicated  (or request it in the Portal: Quotas, Compute)",
        )
    usage = by_name.get(family.lower())
    left = "unknown" if usage is None else str(usage.limit - usage.current)
    return Check(name, Outcome.OK, f"{left} vCPUs free; {nodes} x {largest.name} need {needed}")


def render(checks: Sequence[Check]) -> str:
    """One plain-text table: check, result, how to fix."""
    rows = [("CHECK", "RESULT", "HOW TO FIX")] + [
        (c.name, f"{c.outcome.value}: {c.result}", c.fix) for c in checks
    ]
    first = max(len(r[0]) for r in rows)
    second = min(max(len(r[1]) for r in rows), 70)
    lines = []
    for check, result, fix in rows:
        lines.append(f"{check:<{first}}  {result:<{second}}  {fix}".rstrip())
    return "\n".join(lines)


def exit_code(checks: Iterable[Check]) -> int:
    """1 if any check failed; warnings alone do not fail the preflight."""
    return 1 if any(c.outcome is Outcome.FAILED for c in checks) else 0
