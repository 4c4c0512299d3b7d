"""Preflight's reads: ARM and storage, with the app's settings and credential. Read-only.

Every read goes through the clients the app itself uses (``Arm``, ``StorageConnection``), so a
preflight that passes exercised the same endpoints, identity and pipeline as the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlencode, urlsplit

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.identity import DefaultAzureCredential

from provisioning.arm import Arm
from provisioning.contract import DEFAULT_NODE_COUNT, normalise_location
from provisioning.credentials import SharedTokenCredential
from provisioning.errors import ArmCallFailed
from provisioning.preflight import (
    CONTAINER_SERVICE,
    Check,
    Outcome,
    Permission,
    Usage,
    VmSku,
    api_version_check,
    permissions_check,
    quota_check,
    registration_check,
    storage_check,
    unavailable_sizes_check,
    unreadable_check,
)
from provisioning.settings import Settings, SettingsError
from provisioning.storage import CONNECTION, StorageConnection

PERMISSIONS_API = "2022-04-01"
USAGES_API = "2024-07-01"
SKUS_API = "2021-07-01"


def run_preflight(env: Mapping[str, str], settings: Settings | None = None) -> list[Check]:
    """Every check, in table order: per subscription ARM checks, then storage."""
    settings = settings or Settings.from_env(env)
    checks: list[Check] = []
    if not settings.allowed_subscriptions:
        checks.append(
            Check(
                "ALLOWED_SUBSCRIPTIONS",
                Outcome.FAILED,
                "empty: every request fails with SubscriptionNotAllowed",
                "az functionapp config appsettings set --name <app> --resource-group <group> "
                "--settings ALLOWED_SUBSCRIPTIONS=<subscription id>",
            )
        )
    arm = Arm(settings, SharedTokenCredential(DefaultAzureCredential()))
    for subscription in sorted(settings.allowed_subscriptions):
        checks.extend(_arm_checks(arm, settings, subscription, env.get("AZURE_CLIENT_ID")))
    checks.extend(_storage_checks(env, settings))
    return checks


def _arm_error(exc: ArmCallFailed) -> str:
    return f"{exc.status or 'no answer'} {exc.code}: {exc.info.message[:200]}"


def _arm_checks(
    arm: Arm, settings: Settings, subscription: str, client_id: str | None
) -> list[Check]:
    checks: list[Check] = []
    show = f"az provider show --namespace {CONTAINER_SERVICE} --subscription {subscription}"
    try:
        provider = arm.provider(subscription)
    except ArmCallFailed as exc:
        checks.append(
            unreadable_check(f"provider ({subscription})", CONTAINER_SERVICE, _arm_error(exc), show)
        )
    else:
        checks.append(registration_check(subscription, provider.registration_state))
        checks.append(
            api_version_check(
                subscription,
                provider.resource_types,
                arm.aks_api_version(subscription),
                settings.allowed_locations,
            )
        )
    path = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/permissions"
    try:
        entries = arm.read_list(subscription, f"{path}?api-version={PERMISSIONS_API}")
    except ArmCallFailed as exc:
        assignee = client_id or "<the app identity's client id>"
        checks.append(
            unreadable_check(
                f"permissions ({subscription})",
                "the identity's permissions",
                _arm_error(exc),
                f"az role assignment list --assignee {assignee} --all -o table",
            )
        )
    else:
        permissions = [Permission.from_wire(e) for e in entries]
        checks.append(permissions_check(subscription, permissions, client_id))
    for location in sorted(settings.allowed_locations):
        checks.extend(_quota_checks(arm, subscription, location, settings.allowed_vm_sizes))
    return checks


def _quota_checks(
    arm: Arm, subscription: str, location: str, vm_sizes: Iterable[str]
) -> list[Check]:
    """Warnings only: quota is read with Compute reads the app's own role does not include."""
    base = f"/subscriptions/{subscription}/providers/Microsoft.Compute"
    skus_query = urlencode({"api-version": SKUS_API, "$filter": f"location eq '{location}'"})
    try:
        usages = [
            Usage.from_wire(u)
            for u in arm.read_list(
                subscription, f"{base}/locations/{location}/usages?api-version={USAGES_API}"
            )
        ]
        listed = {
            str(s.get("name", "")).casefold(): s
            for s in arm.read_list(subscription, f"{base}/skus?{skus_query}")
            if str(s.get("resourceType", "")).lower() == "virtualmachines"
        }
        skus = {size: _sku(listed.get(size.casefold())) for size in sorted(vm_sizes)}
    except (ArmCallFailed, KeyError, TypeError, ValueError) as exc:
        error = _arm_error(exc) if isinstance(exc, ArmCallFailed) else f"malformed answer: {exc}"
        return [
            Check(
                f"vCPU quota in {normalise_location(location)}",
                Outcome.WARNING,
                f"could not read quota: {error}",
                f"az vm list-usage --location {normalise_location(location)} "
                f"--subscription {subscription} -o table",
            )
        ]
    checks: list[Check] = []
    unavailable = [size for size, sku in skus.items() if sku is None or sku.restricted]
    if unavailable:
        checks.append(unavailable_sizes_check(location, unavailable))
    families: dict[str, list[VmSku]] = {}
    for sku in skus.values():
        if sku is not None and not sku.restricted:
            families.setdefault(sku.family, []).append(sku)
    for family, members in sorted(families.items()):
        checks.append(
            quota_check(subscription, location, family, members, usages, DEFAULT_NODE_COUNT)
        )
    return checks


def _sku(entry: Mapping[str, object] | None) -> VmSku | None:
    if entry is None:
        return None
    capabilities = entry.get("capabilities")
    vcpus = 0
    if isinstance(capabilities, list):
        for capability in capabilities:
            if isinstance(capability, dict) and capability.get("name") == "vCPUs":
                vcpus = int(str(capability.get("value", "0")))
    return VmSku(
        name=str(entry.get("name", "")),
        family=str(entry.get("family", "")),
        vcpus=vcpus,
        restricted=bool(entry.get("restrictions")),
    )


def _account(env: Mapping[str, str], connection: StorageConnection) -> str:
    if connection.connection_string:
        parts = dict(p.split("=", 1) for p in connection.connection_string.split(";") if "=" in p)
        return parts.get("AccountName", "<account>")
    account = env.get(f"{CONNECTION}__accountName")
    return account or urlsplit(str(connection.queue_url)).netloc.split(".", 1)[0]


def _table_read(table: TableClient) -> Callable[[], object]:
    # One entity query the app itself could make: it reaches the table and changes nothing.
    return lambda: next(iter(table.query_entities("PartitionKey eq 'preflight'")), None)


def _storage_checks(env: Mapping[str, str], settings: Settings) -> list[Check]:
    try:
        connection = StorageConnection.from_env(env)
    except SettingsError as exc:
        return [Check(CONNECTION, Outcome.FAILED, str(exc), "set AzureWebJobsStorage")]
    account = _account(env, connection)
    targets: list[tuple[str, str, Callable[[], object]]] = []
    for name in (settings.queue_name, settings.poison_queue_name):
        targets.append(("queue", name, connection.queue(name).get_queue_properties))
    for name in (settings.status_table, settings.poison_archive_table):
        targets.append(("table", name, _table_read(connection.table(name))))
    checks = []
    for kind, name, read in targets:
        try:
            read()
        except ResourceNotFoundError:
            checks.append(storage_check(kind, name, account, None, missing=True))
        except HttpResponseError as exc:
            error = f"{exc.status_code} {getattr(exc, 'error_code', None) or exc.reason}"
            checks.append(storage_check(kind, name, account, error))
        except AzureError as exc:
            checks.append(storage_check(kind, name, account, str(exc).splitlines()[0][:200]))
        else:
            checks.append(storage_check(kind, name, account, None))
    return checks
