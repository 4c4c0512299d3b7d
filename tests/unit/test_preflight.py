"""Preflight's pure judgements: RBAC wildcard matching, api-versions, quota, the table."""

from __future__ import annotations

import pytest

from provisioning.preflight import (
    REQUIRED_ACTIONS,
    Check,
    Outcome,
    Permission,
    Usage,
    VmSku,
    allows,
    api_version_check,
    exit_code,
    permissions_check,
    quota_check,
    registration_check,
    render,
    unavailable_sizes_check,
)
from tests.unit.factories import SUBSCRIPTION

CONTRIBUTOR = Permission(
    ("*",),
    (
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
    ),
)
TYPES = [
    {"resourceType": "managedClusters", "locations": ["West Europe", "East US"],
     "apiVersions": ["2026-08-01", "2025-10-01"]},
    {"resourceType": "locations/operations", "locations": ["West Europe", "East US"],
     "apiVersions": ["2026-08-01", "2016-03-30"]},
]  # fmt: skip


@pytest.mark.parametrize(
    ("permission", "action", "expected"),
    [
        (CONTRIBUTOR, "Microsoft.ContainerService/managedClusters/write", True),
        (CONTRIBUTOR, "Microsoft.Authorization/roleAssignments/write", False),
        (Permission(("*/read",)), "Microsoft.ContainerService/managedClusters/read", True),
        (Permission(("*/read",)), "Microsoft.ContainerService/managedClusters/write", False),
        (Permission(("microsoft.resources/SUBSCRIPTIONS/resourcegroups/*",)),
         "Microsoft.Resources/subscriptions/resourceGroups/write", True),
        (Permission(("Microsoft.ContainerService/*",), ("*/write",)),
         "Microsoft.ContainerService/managedClusters/write", False),
        (Permission(("Microsoft.ContainerService/managedClusters/read",)),
         "Microsoft.ContainerService/managedClusters/read/extra", False),
    ],
)  # fmt: skip
def test_allows_matches_rbac_wildcards(permission: Permission, action: str, expected: bool) -> None:
    """'*' matches any run, comparison ignores case, notActions subtract within their entry."""
    assert allows([permission], action) is expected


def test_not_actions_of_one_assignment_do_not_hide_another() -> None:
    """Effective permissions are a union: one role's notActions do not remove another's grant."""
    write = "Microsoft.ContainerService/managedClusters/write"
    denied_here = Permission(("*",), (write,))
    assert not allows([denied_here], write)
    assert allows([denied_here, Permission((write,))], write)


def test_permissions_check_names_what_is_missing_and_the_command() -> None:
    """A missing action fails the check, names the action and the az role assignment command."""
    granted = Permission(REQUIRED_ACTIONS[:-1])
    check = permissions_check(SUBSCRIPTION, [granted], "client-id-1")
    assert check.outcome is Outcome.FAILED
    assert REQUIRED_ACTIONS[-1] in check.result
    assert "az role assignment create --assignee client-id-1" in check.fix
    assert permissions_check(SUBSCRIPTION, [CONTRIBUTOR], None).outcome is Outcome.OK


def test_registration_check() -> None:
    """Only Registered passes; anything else names az provider register."""
    assert registration_check(SUBSCRIPTION, "Registered").outcome is Outcome.OK
    failed = registration_check(SUBSCRIPTION, "NotRegistered")
    assert failed.outcome is Outcome.FAILED
    assert failed.fix.startswith("az provider register --namespace Microsoft.ContainerService")


@pytest.mark.parametrize(
    ("version", "locations", "problem"),
    [
        ("2026-08-01", ["westeurope", "eastus"], None),
        ("2027-01-01", ["westeurope"], "managedClusters does not offer 2027-01-01"),
        ("2025-10-01", ["westeurope"], None),  # the operations type's versions are AKS's choice
        ("2026-08-01", ["westeurope", "brazilsouth"], "not offered in brazilsouth"),
    ],
)
def test_api_version_check(version: str, locations: list[str], problem: str | None) -> None:
    """The SDK's version must be listed for managedClusters, every allowed region for both."""
    check = api_version_check(SUBSCRIPTION, TYPES, version, locations)
    if problem is None:
        assert check.outcome is Outcome.OK
    else:
        assert check.outcome is Outcome.FAILED
        assert problem in check.result
        assert "az provider show --namespace Microsoft.ContainerService" in check.fix


def test_api_version_check_without_allowed_locations_warns() -> None:
    """No ALLOWED_LOCATIONS: nothing region-specific can be checked, which is a warning."""
    assert api_version_check(SUBSCRIPTION, TYPES, "2026-08-01", []).outcome is Outcome.WARNING


D2 = VmSku("Standard_D2s_v5", "standardDSv5Family", 2)
D4 = VmSku("Standard_D4s_v5", "standardDSv5Family", 4)


@pytest.mark.parametrize(
    ("usages", "outcome"),
    [
        ([Usage("standardDSv5Family", 0, 100), Usage("cores", 0, 100)], Outcome.OK),
        ([Usage("standardDSv5Family", 90, 100), Usage("cores", 0, 100)], Outcome.WARNING),
        ([Usage("standardDSv5Family", 0, 100), Usage("cores", 95, 100)], Outcome.WARNING),
        ([Usage("standardDSv5Family", 88, 100), Usage("cores", 88, 100)], Outcome.OK),
    ],
)
def test_quota_check_is_headroom_for_the_largest_size(
    usages: list[Usage], outcome: Outcome
) -> None:
    """3 nodes of the family's largest allowed size (4 vCPUs) need 12 free in the family and
    in the regional total."""
    check = quota_check(SUBSCRIPTION, "West Europe", "standardDSv5Family", [D2, D4], usages, 3)
    assert check.name == "vCPU quota standardDSv5Family in westeurope"
    assert check.outcome is outcome
    if outcome is Outcome.WARNING:
        assert "Standard_D4s_v5 (12 vCPUs)" in check.result
        assert check.fix.startswith("az quota update --resource-name standardDSv5Family")


def test_sizes_not_offered_are_one_warning() -> None:
    """Allowed sizes missing or restricted in a region: one warning naming them and the command."""
    check = unavailable_sizes_check("westeurope", ["standard_x1", "standard_x2"])
    assert check.outcome is Outcome.WARNING
    assert "standard_x1, standard_x2" in check.result
    assert "az vm list-skus --location westeurope --size standard_x1" in check.fix


def test_render_and_exit_code() -> None:
    """One header and one line per check; warnings alone exit 0, any failure exits 1."""
    ok = Check("a", Outcome.OK, "fine")
    warn = Check("b", Outcome.WARNING, "tight", "az x")
    failed = Check("c", Outcome.FAILED, "broken", "az y")
    lines = render([ok, warn, failed]).splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "HOW", "TO", "FIX"]
    assert len(lines) == 4
    assert lines[3].startswith("c") and lines[3].endswith("az y")
    assert exit_code([ok, warn]) == 0
    assert exit_code([ok, warn, failed]) == 1


def test_api_version_check_needs_the_operations_type_in_every_region() -> None:
    """Clusters offered but their operations not, in an allowed region: the watch would fail."""
    types = [TYPES[0], {**TYPES[1], "locations": ["East US"]}]
    check = api_version_check(SUBSCRIPTION, types, "2026-08-01", ["westeurope"])
    assert check.outcome is Outcome.FAILED
    assert "locations/operations is not offered in westeurope" in check.result
