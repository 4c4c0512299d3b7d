"""Settings.from_env: defaults, parsing, validation naming the setting, immutability."""

from __future__ import annotations

import dataclasses

import pytest

from provisioning.settings import DEFAULT_ARM_ENDPOINT, Settings, SettingsError
from tests.unit.factories import OTHER_SUBSCRIPTION, SUBSCRIPTION


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("queue_name", "cluster-provisioning"),
        ("status_table", "provisioningstatus"),
        ("arm_endpoint", "https://management.azure.com"),
        ("rg_visibility_attempts", 12),
        ("rg_visibility_delay_seconds", 5),
        ("transient_retries", 10),
        ("allowed_subscriptions", frozenset()),
        ("allowed_locations", frozenset()),
        ("resource_group_prefix", ""),
        ("adopt_existing_resource_groups", False),
        ("cluster_watch_delay_seconds", 30),
        ("cluster_create_timeout_minutes", 60),
        ("aks_rg_not_found_retries", 3),
        ("rg_deleting_wait_minutes", 30),
    ],
)
def test_empty_environment_gives_issue_defaults(attribute: str, expected: object) -> None:
    """With no app settings each setting takes the default the issue specifies."""
    assert getattr(Settings.from_env({}), attribute) == expected


def test_from_empty_environment_equals_dataclass_defaults() -> None:
    """``from_env({})`` and ``Settings()`` agree, so the two defaults cannot drift apart."""
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
@pytest.mark.parametrize(
    ("name", "attribute", "default"),
    [
        ("PROVISIONING_QUEUE_NAME", "queue_name", "cluster-provisioning"),
        ("ARM_ENDPOINT", "arm_endpoint", DEFAULT_ARM_ENDPOINT),
        ("RG_VISIBILITY_ATTEMPTS", "rg_visibility_attempts", 12),
        ("TRANSIENT_RETRIES", "transient_retries", 10),
    ],
)
def test_blank_setting_means_default(
    name: str, attribute: str, default: object, blank: str
) -> None:
    """A setting that is present but blank is treated as absent."""
    assert getattr(Settings.from_env({name: blank}), attribute) == default


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("PROVISIONING_QUEUE_NAME", "aks-requests", "queue_name", "aks-requests"),
        ("STATUS_TABLE_NAME", "Status2", "status_table", "Status2"),
        ("RG_VISIBILITY_ATTEMPTS", "20", "rg_visibility_attempts", 20),
        ("RG_VISIBILITY_DELAY_SECONDS", " 7 ", "rg_visibility_delay_seconds", 7),
        ("TRANSIENT_RETRIES", "0", "transient_retries", 0),
        ("RESOURCE_GROUP_PREFIX", "rg-team-", "resource_group_prefix", "rg-team-"),
        ("MAX_NODE_COUNT", "25", "max_node_count", 25),
        ("CLUSTER_WATCH_DELAY_SECONDS", "45", "cluster_watch_delay_seconds", 45),
        ("CLUSTER_CREATE_TIMEOUT_MINUTES", "90", "cluster_create_timeout_minutes", 90),
        ("AKS_RG_NOT_FOUND_RETRIES", "0", "aks_rg_not_found_retries", 0),
        ("RG_DELETING_WAIT_MINUTES", "15", "rg_deleting_wait_minutes", 15),
        ("MAX_IN_FLIGHT_PER_REQUESTER", "2", "max_in_flight_per_requester", 2),
        (
            "ALLOWED_VM_SIZES",
            "Standard_D4s_v5, Standard_E8s_v5",
            "allowed_vm_sizes",
            frozenset({"standard_d4s_v5", "standard_e8s_v5"}),
        ),
        (
            "ENTRA_AUTHORITY_HOST",
            "https://login.microsoftonline.us/",
            "entra_authority_host",
            "https://login.microsoftonline.us",
        ),
        (
            "ENTRA_API_AUDIENCE",
            f"{SUBSCRIPTION}, api://{SUBSCRIPTION}",
            "entra_api_audiences",
            frozenset({SUBSCRIPTION, f"api://{SUBSCRIPTION}"}),
        ),
    ],
)
def test_setting_value_is_read(name: str, value: str, attribute: str, expected: object) -> None:
    """Each app setting lands, parsed, on its attribute."""
    assert getattr(Settings.from_env({name: value}), attribute) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
    ],
)
def test_adopt_existing_resource_groups_is_a_boolean(value: str, expected: bool) -> None:
    """ADOPT_EXISTING_RESOURCE_GROUPS accepts the usual spellings of true and false."""
    settings = Settings.from_env({"ADOPT_EXISTING_RESOURCE_GROUPS": value})
    assert settings.adopt_existing_resource_groups is expected


def test_queue_name_of_56_characters_is_accepted_and_poison_name_fits() -> None:
    """A 56-character queue name is allowed and its ``-poison`` queue is exactly 63 characters."""
    name = "q" * 56
    settings = Settings.from_env({"PROVISIONING_QUEUE_NAME": name})
    assert settings.queue_name == name
    assert settings.poison_queue_name == name + "-poison"
    assert len(settings.poison_queue_name) == 63


def test_default_poison_queue_name() -> None:
    """The poison queue is the queue name plus ``-poison``, as the Functions host names it."""
    assert Settings.from_env({}).poison_queue_name == "cluster-provisioning-poison"


@pytest.mark.parametrize(
    ("value", "endpoint", "scope", "host"),
    [
        (
            "",
            "https://management.azure.com",
            "https://management.azure.com/.default",
            "management.azure.com",
        ),
        (
            "https://management.usgovcloudapi.net/",
            "https://management.usgovcloudapi.net",
            "https://management.usgovcloudapi.net/.default",
            "management.usgovcloudapi.net",
        ),
        (
            "https://LocalHost:8443",
            "https://LocalHost:8443",
            "https://LocalHost:8443/.default",
            "localhost:8443",
        ),
    ],
)
def test_arm_endpoint_gives_scope_and_host(
    value: str, endpoint: str, scope: str, host: str
) -> None:
    """The token scope is ``<endpoint>/.default`` (no doubled slash) and the host is lowercased."""
    settings = Settings.from_env({"ARM_ENDPOINT": value})
    assert settings.arm_endpoint == endpoint
    assert settings.arm_scope == scope
    assert settings.arm_host == host


def test_allowed_subscriptions_are_parsed_lowercased_and_trimmed() -> None:
    """ALLOWED_SUBSCRIPTIONS is comma-separated GUIDs; blanks are skipped, case is folded."""
    raw = f" {SUBSCRIPTION.upper()} ,, {OTHER_SUBSCRIPTION},"
    settings = Settings.from_env({"ALLOWED_SUBSCRIPTIONS": raw})
    assert settings.allowed_subscriptions == frozenset({SUBSCRIPTION, OTHER_SUBSCRIPTION})


def test_allowed_locations_are_normalised_like_request_locations() -> None:
    """ALLOWED_LOCATIONS entries are lowercased and stripped of spaces ('West Europe')."""
    settings = Settings.from_env({"ALLOWED_LOCATIONS": "West Europe, northeurope"})
    assert settings.allowed_locations == frozenset({"westeurope", "northeurope"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RG_VISIBILITY_ATTEMPTS", "twelve"),
        ("RG_VISIBILITY_ATTEMPTS", "12.5"),
        ("RG_VISIBILITY_ATTEMPTS", "0"),
        ("RG_VISIBILITY_DELAY_SECONDS", "5s"),
        ("RG_VISIBILITY_DELAY_SECONDS", "0"),
        ("TRANSIENT_RETRIES", "-1"),
        ("TRANSIENT_RETRIES", "ten"),
        ("MAX_NODE_COUNT", "0"),
        ("MAX_NODE_COUNT", "1e3"),
        ("CLUSTER_WATCH_DELAY_SECONDS", "thirty"),
        ("CLUSTER_CREATE_TIMEOUT_MINUTES", "1h"),
        ("AKS_RG_NOT_FOUND_RETRIES", "many"),
        ("RG_DELETING_WAIT_MINUTES", "0"),
        ("ADOPT_EXISTING_RESOURCE_GROUPS", "maybe"),
        ("ARM_ENDPOINT", "http://management.azure.com"),
        ("ARM_ENDPOINT", "management.azure.com"),
        ("ARM_ENDPOINT", "https://"),
        ("ARM_ENDPOINT", "ftp://management.azure.com"),
        ("ARM_ENDPOINT", "https://management.azure.com/?x=1"),
        ("ARM_ENDPOINT", "https://management.azure.com/#top"),
        ("ALLOWED_SUBSCRIPTIONS", "not-a-guid"),
        ("ALLOWED_SUBSCRIPTIONS", f"{SUBSCRIPTION},{{{OTHER_SUBSCRIPTION}}}"),
        ("PROVISIONING_QUEUE_NAME", "q" * 57),
        ("PROVISIONING_QUEUE_NAME", "Cluster-Provisioning"),
        ("PROVISIONING_QUEUE_NAME", "cluster--provisioning"),
        ("PROVISIONING_QUEUE_NAME", "-cluster"),
        ("PROVISIONING_QUEUE_NAME", "cluster-"),
        ("PROVISIONING_QUEUE_NAME", "ab"),
        ("PROVISIONING_QUEUE_NAME", "cluster_provisioning"),
        ("STATUS_TABLE_NAME", "1status"),
        ("STATUS_TABLE_NAME", "provisioning-status"),
        ("STATUS_TABLE_NAME", "ab"),
        ("RESOURCE_GROUP_PREFIX", "rg/team"),
        ("MAX_IN_FLIGHT_PER_REQUESTER", "0"),
        ("MAX_IN_FLIGHT_PER_REQUESTER", "five"),
        ("ENTRA_TENANT_ID", "contoso.onmicrosoft.com"),
        ("ENTRA_AUTHORITY_HOST", "http://login.microsoftonline.com"),
        ("REQUEST_POLICY", "{"),
        ("REQUEST_POLICY", '{"Provisioning.Request": {"max_in_flight": -1}}'),
        ("REQUESTER_TABLE_NAME", "requesters-table"),
    ],
)
def test_malformed_setting_raises_naming_it(name: str, value: str) -> None:
    """A malformed setting fails at start-up with a SettingsError whose message names it."""
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_settings_error_is_a_value_error() -> None:
    """SettingsError is a ValueError, so generic start-up handling still catches it."""
    assert issubclass(SettingsError, ValueError)


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after they are read."""
    settings = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.transient_retries = 99  # type: ignore[misc]


def test_from_env_does_not_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the mapping passed in is read: os.environ does not leak into ``from_env``."""
    monkeypatch.setenv("TRANSIENT_RETRIES", "42")
    assert Settings.from_env({}).transient_retries == 10


def test_the_identity_defaults() -> None:
    """Without the new settings: no tenant (HTTP routes off), Entra's public cloud, 5 in flight,
    the documented general-purpose VM sizes."""
    settings = Settings.from_env({})
    assert settings.entra_tenant_id is None
    assert settings.entra_authority_host == "https://login.microsoftonline.com"
    assert settings.max_in_flight_per_requester == 5
    assert "standard_d4s_v5" in settings.allowed_vm_sizes
    assert not any("nd96" in size or "h100" in size for size in settings.allowed_vm_sizes)


def test_a_tenant_without_an_audience_fails_naming_the_audience() -> None:
    """ENTRA_TENANT_ID set and ENTRA_API_AUDIENCE empty: a SettingsError naming the audience."""
    with pytest.raises(SettingsError, match="ENTRA_API_AUDIENCE"):
        Settings.from_env({"ENTRA_TENANT_ID": SUBSCRIPTION})
    both = Settings.from_env({"ENTRA_TENANT_ID": SUBSCRIPTION.upper(), "ENTRA_API_AUDIENCE": "a"})
    assert both.entra_tenant_id == SUBSCRIPTION
