"""The app's settings: read from the environment once, validated, frozen.

Malformed values fail at start-up with the setting's name, so a typo in an app setting shows up
in the host's start-up log rather than as a failed request hours later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TypeVar
from urllib.parse import urlsplit

from provisioning.contract import canonical_uuid, normalise_location
from provisioning.policy import Limits, PolicyError, RequestPolicy, parse_policy

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
# General-purpose sizes (Dsv5 and Dasv5, 2-8 vCPUs): what most clusters need, none of the
# expensive families (GPU, memory- or storage-optimised) unless an operator allows them.
DEFAULT_VM_SIZES = (
    "Standard_D2s_v5",
    "Standard_D4s_v5",
    "Standard_D8s_v5",
    "Standard_D2as_v5",
    "Standard_D4as_v5",
    "Standard_D8as_v5",
)
# Queue names: 3-63 lowercase letters, digits and single hyphens; 56 leaves room for "-poison".
_QUEUE = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,54}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
# A timer trigger's NCRONTAB: six fields, seconds first ("0 */5 * * * *" is every 5 minutes).
_NCRONTAB = re.compile(r"^[0-9*/,-]+( [0-9A-Za-z*/,-]+){5}$")


_N = TypeVar("_N", int, float)


class SettingsError(ValueError):
    """An app setting is missing or malformed; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    queue_name: str = "cluster-provisioning"
    status_table: str = "provisioningstatus"
    poison_archive_table: str = "provisioningpoison"
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    rg_visibility_attempts: int = 12
    rg_visibility_delay_seconds: int = 5
    transient_retries: int = 10
    allowed_subscriptions: frozenset[str] = field(default_factory=frozenset)
    allowed_locations: frozenset[str] = field(default_factory=frozenset)
    resource_group_prefix: str = ""
    max_node_count: int = 100
    adopt_existing_resource_groups: bool = False
    cluster_watch_delay_seconds: int = 30
    cluster_create_timeout_minutes: float = 60
    aks_rg_not_found_retries: int = 3
    rg_deleting_wait_minutes: float = 30
    rg_deleting_delay_seconds: int = 30
    provider_registration_delay_seconds: int = 30
    sweeper_schedule: str = "0 */5 * * * *"
    sweeper_overdue_minutes: float = 15
    status_retention_days: int = 90
    storage_retry_seconds: int = 60
    requester_table: str = "provisioningrequesters"
    allowed_vm_sizes: frozenset[str] = frozenset(v.casefold() for v in DEFAULT_VM_SIZES)
    max_in_flight_per_requester: int = 5
    request_policy: RequestPolicy = field(default_factory=RequestPolicy)
    entra_tenant_id: str | None = None
    entra_api_audiences: frozenset[str] = field(default_factory=frozenset)
    entra_authority_host: str = "https://login.microsoftonline.com"

    @property
    def global_limits(self) -> Limits:
        """The global settings as a rule: every caller's rule is capped by it."""
        return Limits(
            subscriptions=self.allowed_subscriptions,
            locations=self.allowed_locations or None,
            vm_sizes=self.allowed_vm_sizes,
            max_node_count=self.max_node_count,
            max_in_flight=self.max_in_flight_per_requester,
            source="the global settings",
        )

    @property
    def poison_queue_name(self) -> str:
        return f"{self.queue_name}-poison"

    @property
    def poison_poison_queue_name(self) -> str:
        """What the poison trigger itself gave up on; the sweeper drains it."""
        return f"{self.poison_queue_name}-poison"

    @property
    def arm_scope(self) -> str:
        return f"{self.arm_endpoint}/.default"

    @property
    def arm_host(self) -> str:
        return urlsplit(self.arm_endpoint).netloc.lower()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from app settings; raise SettingsError naming the first bad one."""
        reader = _Reader(env)
        default = cls()  # every default is written once, on its field
        settings = cls(
            queue_name=reader.text("PROVISIONING_QUEUE_NAME", default.queue_name, _QUEUE),
            status_table=reader.text("STATUS_TABLE_NAME", default.status_table, _TABLE),
            poison_archive_table=reader.text(
                "POISON_ARCHIVE_TABLE_NAME", default.poison_archive_table, _TABLE
            ),
            arm_endpoint=reader.https_url("ARM_ENDPOINT", default.arm_endpoint),
            rg_visibility_attempts=reader.integer(
                "RG_VISIBILITY_ATTEMPTS", default.rg_visibility_attempts, 1, 100
            ),
            rg_visibility_delay_seconds=reader.integer(
                "RG_VISIBILITY_DELAY_SECONDS", default.rg_visibility_delay_seconds, 1, 900
            ),
            transient_retries=reader.integer(
                "TRANSIENT_RETRIES", default.transient_retries, 0, 100
            ),
            allowed_subscriptions=reader.guid_set("ALLOWED_SUBSCRIPTIONS"),
            allowed_locations=reader.location_set("ALLOWED_LOCATIONS"),
            resource_group_prefix=reader.text(
                "RESOURCE_GROUP_PREFIX",
                default.resource_group_prefix,
                re.compile(r"^[A-Za-z0-9_.()-]{0,40}$"),
            ),
            max_node_count=reader.integer("MAX_NODE_COUNT", default.max_node_count, 1, 1000),
            adopt_existing_resource_groups=reader.boolean(
                "ADOPT_EXISTING_RESOURCE_GROUPS", default.adopt_existing_resource_groups
            ),
            cluster_watch_delay_seconds=reader.integer(
                "CLUSTER_WATCH_DELAY_SECONDS", default.cluster_watch_delay_seconds, 1, 900
            ),
            cluster_create_timeout_minutes=reader.minutes(
                "CLUSTER_CREATE_TIMEOUT_MINUTES", default.cluster_create_timeout_minutes
            ),
            aks_rg_not_found_retries=reader.integer(
                "AKS_RG_NOT_FOUND_RETRIES", default.aks_rg_not_found_retries, 0, 20
            ),
            rg_deleting_wait_minutes=reader.minutes(
                "RG_DELETING_WAIT_MINUTES", default.rg_deleting_wait_minutes
            ),
            rg_deleting_delay_seconds=reader.integer(
                "RG_DELETING_DELAY_SECONDS", default.rg_deleting_delay_seconds, 1, 900
            ),
            provider_registration_delay_seconds=reader.integer(
                "PROVIDER_REGISTRATION_DELAY_SECONDS",
                default.provider_registration_delay_seconds,
                1,
                900,
            ),
            sweeper_schedule=reader.text("SWEEPER_SCHEDULE", default.sweeper_schedule, _NCRONTAB),
            sweeper_overdue_minutes=reader.minutes(
                "SWEEPER_OVERDUE_MINUTES", default.sweeper_overdue_minutes
            ),
            status_retention_days=reader.integer(
                "STATUS_RETENTION_DAYS", default.status_retention_days, 1, 3650
            ),
            storage_retry_seconds=reader.integer(
                "STORAGE_RETRY_SECONDS", default.storage_retry_seconds, 1, 900
            ),
            requester_table=reader.text("REQUESTER_TABLE_NAME", default.requester_table, _TABLE),
            allowed_vm_sizes=reader.vm_size_set("ALLOWED_VM_SIZES"),
            max_in_flight_per_requester=reader.integer(
                "MAX_IN_FLIGHT_PER_REQUESTER", default.max_in_flight_per_requester, 1, 1000
            ),
            request_policy=reader.policy("REQUEST_POLICY"),
            entra_tenant_id=reader.guid("ENTRA_TENANT_ID"),
            entra_api_audiences=frozenset(reader.items("ENTRA_API_AUDIENCE")),
            entra_authority_host=reader.https_url(
                "ENTRA_AUTHORITY_HOST", default.entra_authority_host
            ),
        )
        if settings.entra_tenant_id and not settings.entra_api_audiences:
            raise SettingsError(
                "ENTRA_API_AUDIENCE is empty: with ENTRA_TENANT_ID set, name the API's client id "
                "and/or api://<client id>"
            )
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        return None if value is None or not value.strip() else value.strip()

    def text(self, name: str, default: str, pattern: re.Pattern[str]) -> str:
        value = self._raw(name)
        if value is None:
            return default
        if not pattern.match(value):
            raise SettingsError(f"{name}={value!r} is malformed (expected {pattern.pattern})")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        return self._number(name, default, int, "a whole number", (low, high))

    def minutes(self, name: str, default: float) -> float:
        # Fractions are allowed (0.1 = 6 s), which lets tests and demos run short bounds.
        return self._number(
            name, default, float, "a number of minutes", (0.01, 24 * 60), " minutes"
        )

    def _number(
        self,
        name: str,
        default: _N,
        convert: Callable[[str], _N],
        what: str,
        bounds: tuple[float, float],
        unit: str = "",
    ) -> _N:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = convert(value)
        except ValueError:
            raise SettingsError(f"{name}={value!r} is not {what}") from None
        low, high = bounds
        if not low <= number <= high:
            raise SettingsError(f"{name}={number} is outside {low}..{high}{unit}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise SettingsError(f"{name}={value!r} is not true or false")

    def https_url(self, name: str, default: str) -> str:
        value = self._raw(name) or default
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
            raise SettingsError(f"{name}={value!r} must be an https:// URL with no query")
        return value.rstrip("/")

    def guid_set(self, name: str) -> frozenset[str]:
        items = self.items(name)
        for item in items:
            if canonical_uuid(item) is None:
                raise SettingsError(f"{name} has {item!r}, which is not a subscription GUID")
        return frozenset(item.lower() for item in items)

    def location_set(self, name: str) -> frozenset[str]:
        return frozenset(normalise_location(item) for item in self.items(name))

    def vm_size_set(self, name: str) -> frozenset[str]:
        items = self.items(name) or list(DEFAULT_VM_SIZES)
        return frozenset(item.casefold() for item in items)

    def guid(self, name: str) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        guid = canonical_uuid(value)
        if guid is None:
            raise SettingsError(f"{name}={value!r} is not a GUID")
        return guid

    def policy(self, name: str) -> RequestPolicy:
        try:
            return parse_policy(self._raw(name))
        except PolicyError as exc:
            raise SettingsError(f"{name} {exc}") from None

    def items(self, name: str) -> list[str]:
        value = self._raw(name) or ""
        return [item.strip() for item in value.split(",") if item.strip()]


@cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings.from_env(os.environ)
