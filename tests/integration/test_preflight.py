"""``python -m provisioning preflight`` against the ARM emulator and Azurite: healthy, and with
each check failing in turn (its row FAILED, or a warning for quota, naming the az command)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.arm.catalog import AKS_API_VERSIONS, LOCATIONS
from localazure.azurite import Azurite
from provisioning.__main__ import main
from provisioning.preflight import REQUIRED_ACTIONS

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_settings(arm: ArmEmulator, azurite: Azurite) -> Iterator[dict[str, str]]:
    """A deployed app's settings: its queue, poison queue and tables exist, as Bicep makes them."""
    suffix = uuid.uuid4().hex[:10]
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PROVISIONING_QUEUE_NAME": f"pre-{suffix}",
        "STATUS_TABLE_NAME": f"status{suffix}",
        "POISON_ARCHIVE_TABLE_NAME": f"poison{suffix}",
        "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
        "ALLOWED_LOCATIONS": "westeurope,East US",
        **arm.env(),
    }
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    for queue in (f"pre-{suffix}", f"pre-{suffix}-poison"):
        queues.create_queue(queue)
    for table in (f"status{suffix}", f"poison{suffix}"):
        tables.create_table(table)
    yield settings
    for queue in (f"pre-{suffix}", f"pre-{suffix}-poison"):
        queues.delete_queue(queue)
    for table in (f"status{suffix}", f"poison{suffix}"):
        tables.delete_table(table)


def _preflight(
    settings: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, str]]:
    """Run the command in-process with ``settings`` as the environment: (exit code, rows)."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code = main(["preflight"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("CHECK")
    return code, {line.split("  ", 1)[0]: line for line in lines[1:]}


def _row(rows: dict[str, str], prefix: str) -> str:
    found = [line for name, line in rows.items() if name.startswith(prefix)]
    assert len(found) == 1, rows
    return found[0]


def test_healthy_deployment_passes(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """Every check is ok, and preflight only read: no PUT, POST or DELETE reached ARM."""
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 0, rows
    assert all(" ok: " in line for line in rows.values()), rows
    # ARM (provider, api-version, permissions); per region one row per family of the default
    # ALLOWED_VM_SIZES (Dsv5, Dasv5); storage (two queues, two tables).
    assert len(rows) == 3 + 2 * 2 + 4
    assert {c.method for c in arm.calls} == {"GET"}
    permissions = [c for c in arm.calls if c.path.endswith("/Microsoft.Authorization/permissions")]
    assert permissions and permissions[0].query["api-version"] == "2022-04-01"


def test_unregistered_provider_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """NotRegistered fails the run and says az provider register; preflight does not register."""
    arm.set_unregistered()
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, "provider registered")
    assert "FAILED" in row and "NotRegistered" in row
    assert "az provider register --namespace Microsoft.ContainerService" in row
    assert not [c for c in arm.calls if c.path.endswith("/register")]


def test_region_without_aks_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """An allowed region the provider does not offer AKS in fails the api-version check."""
    settings = {**app_settings, "ALLOWED_LOCATIONS": "westeurope,brazilsouth"}
    code, rows = _preflight(settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, "AKS api-version")
    assert "FAILED" in row and "not offered in brazilsouth" in row
    assert "az provider show --namespace Microsoft.ContainerService" in row


def test_sdk_api_version_offered_nowhere_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """No region offers the pinned SDK's AKS api-version any more (it is ahead of Azure):
    managedClusters does not list it, and the row says so with the az command."""
    sdk_version = AKS_API_VERSIONS[0]
    for region in LOCATIONS:
        arm.set_aks_api_versions(location=region, versions=list(AKS_API_VERSIONS[1:]))
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, f"AKS api-version {sdk_version}")
    assert "FAILED" in row and f"managedClusters does not offer {sdk_version}" in row
    assert "az provider show --namespace Microsoft.ContainerService" in row


def test_allowed_region_dropped_by_aks_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """An allowed region where AKS offers no version at all leaves the provider's locations."""
    arm.set_aks_api_versions(location="westeurope", versions=[])
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, "AKS api-version")
    assert "managedClusters is not offered in westeurope" in row


def test_missing_permission_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """An identity without managedClusters/write fails the permissions check, naming it."""
    arm.set_permissions(["*/read", "Microsoft.Resources/subscriptions/resourceGroups/write"])
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, "permissions")
    assert "FAILED" in row and "Microsoft.ContainerService/managedClusters/write" in row
    assert "az role assignment create" in row
    arm.set_permissions(list(REQUIRED_ACTIONS))  # exactly the app's custom role
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 0, rows


def test_unreadable_provider_fails(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """A denied provider read is a failed row with ARM's code, not a crash."""
    arm.add_fault("forbidden", method="GET", path="/providers/Microsoft.ContainerService$", times=5)
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, "provider (")
    assert "403 AuthorizationFailed" in row and "az provider show" in row


def test_storage_unreachable_or_missing_fails(
    app_settings: dict[str, str], azurite: Azurite, monkeypatch, capsys
) -> None:
    """A missing queue names az storage queue create; a wrong key fails every storage row."""
    QueueServiceClient.from_connection_string(azurite.connection_string).delete_queue(
        app_settings["PROVISIONING_QUEUE_NAME"] + "-poison"
    )
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 1
    row = _row(rows, f"queue {app_settings['PROVISIONING_QUEUE_NAME']}-poison")
    assert "FAILED" in row and "az storage queue create --name" in row
    QueueServiceClient.from_connection_string(azurite.connection_string).create_queue(
        app_settings["PROVISIONING_QUEUE_NAME"] + "-poison"
    )
    wrong_key = azurite.connection_string.replace("AccountKey=", "AccountKey=AAAA")
    code, rows = _preflight({**app_settings, "AzureWebJobsStorage": wrong_key}, monkeypatch, capsys)
    assert code == 1
    storage_rows = [line for name, line in rows.items() if name.startswith(("queue", "table"))]
    assert len(storage_rows) == 4
    assert all("FAILED" in line and "az role assignment create" in line for line in storage_rows)


def test_quota_shortfall_warns_without_failing(
    app_settings: dict[str, str], arm: ArmEmulator, monkeypatch, capsys
) -> None:
    """Too few free DSv5 vCPUs in one region is a warning (exit 0) naming az quota update; so
    is an allowed size the region restricts."""
    arm.set_vcpu_quota("westeurope", "standardDSv5Family", limit=20, used=10)
    arm.restrict_vm_size("eastus", "Standard_D4s_v5")
    code, rows = _preflight(app_settings, monkeypatch, capsys)
    assert code == 0
    tight = _row(rows, "vCPU quota standardDSv5Family in westeurope")
    assert "warning" in tight and "standardDSv5Family 10/20 used" in tight
    assert "Standard_D8s_v5 (24 vCPUs)" in tight  # the family's largest allowed size, 3 nodes
    assert "az quota update --resource-name standardDSv5Family" in tight
    restricted = _row(rows, "VM sizes in eastus")
    assert "warning" in restricted and "standard_d4s_v5" in restricted
    assert "az vm list-skus --location eastus" in restricted
    assert " ok: " in _row(rows, "vCPU quota standardDSv5Family in eastus")


def test_cli_exit_code_and_table(app_settings: dict[str, str], arm: ArmEmulator) -> None:
    """As an operator runs it: a subprocess, a table on stdout, exit 1 on a failure."""
    arm.set_permissions(list(REQUIRED_ACTIONS[:2]))
    run = subprocess.run(
        [sys.executable, "-m", "provisioning", "preflight"],
        env={"PATH": "", **app_settings},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines()[0].split()[:2] == ["CHECK", "RESULT"]
    assert "FAILED" in run.stdout and "az role assignment create" in run.stdout
