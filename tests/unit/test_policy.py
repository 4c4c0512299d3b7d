"""REQUEST_POLICY: parsing (a malformed policy fails start-up, naming the setting) and merging."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.decisions import policy_error
from provisioning.identity import QUEUE, Requester
from provisioning.policy import limits_for_queue, limits_for_redrive, limits_for_roles
from provisioning.settings import Settings, SettingsError
from tests.unit.factories import OTHER_SUBSCRIPTION, SUBSCRIPTION, make_request

REQUEST = "Provisioning.Request"
GPU = "Provisioning.Gpu"
ALICE = Requester("user", "0a1b2c3d-0000-4000-8000-00000000a11c", "t", "alice@contoso.example")


def settings(policy: dict[str, Any] | None = None, **env: str) -> Settings:
    base = {
        "ALLOWED_SUBSCRIPTIONS": f"{SUBSCRIPTION},{OTHER_SUBSCRIPTION}",
        "ALLOWED_LOCATIONS": "westeurope,northeurope,eastus",
        "ALLOWED_VM_SIZES": "Standard_D4s_v5,Standard_D8s_v5,Standard_NC24ads_A100_v4",
        "MAX_NODE_COUNT": "50",
        **env,
    }
    if policy is not None:
        base["REQUEST_POLICY"] = json.dumps(policy)
    return Settings.from_env(base)


def code(request_settings: Settings, roles: tuple[str, ...], **request: Any) -> str | None:
    limits = limits_for_roles(
        roles, request_settings.request_policy, request_settings.global_limits
    )
    error = policy_error(make_request(**request), request_settings, limits)
    return None if error is None else error.info.code


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"Provisioning.Request": 3}', "must be an object"),
        ('{"Provisioning.Request": {"vm_size": ["x"]}}', "unknown field 'vm_size'"),
        ('{"Provisioning.Request": {"max_node_count": "5"}}', "whole number"),
        ('{"Provisioning.Request": {"max_node_count": 0}}', "outside"),
        ('{"Provisioning.Request": {"subscriptions": ["nope"]}}', "not a GUID"),
        ('{"Provisioning.Request": {"locations": "westeurope"}}', "list of non-empty"),
        ('{"$queue": true}', "must be an object or false"),
        ('{"$other": {}}', "keys are app roles"),
    ],
)
def test_malformed_policy_fails_naming_the_setting(text: str, words: str) -> None:
    """A malformed REQUEST_POLICY is a SettingsError that names REQUEST_POLICY and the problem."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REQUEST_POLICY": text})
    assert "REQUEST_POLICY" in str(caught.value)
    assert words in str(caught.value)


def test_no_policy_is_todays_behaviour() -> None:
    """Without REQUEST_POLICY a requester gets the global settings and queue messages run."""
    plain = settings()
    assert code(plain, (REQUEST,), vm_size="Standard_D8s_v5", node_count=50) is None
    queue = limits_for_queue(plain.request_policy, plain.global_limits)
    assert queue is not None and queue.max_in_flight is None
    assert (
        limits_for_roles((REQUEST,), plain.request_policy, plain.global_limits).max_in_flight == 5
    )


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({"vm_size": "Standard_D8s_v5"}, "VmSizeNotAllowed"),
        ({"node_count": 6}, "NodeCountNotAllowed"),
        ({"location": "eastus"}, "LocationNotAllowed"),
        ({"subscription_id": OTHER_SUBSCRIPTION}, "SubscriptionNotAllowed"),
        ({"vm_size": "standard_d4s_V5", "node_count": 5}, None),
    ],
)
def test_outside_the_rule_each_field_refuses_with_its_code(
    request_fields: dict[str, Any], expected: str | None
) -> None:
    """Each field outside the caller's rule gives its own refusal code."""
    rule = {
        "subscriptions": [SUBSCRIPTION],
        "locations": ["West Europe"],
        "vm_sizes": ["Standard_D4s_v5"],
        "max_node_count": 5,
    }
    assert code(settings({REQUEST: rule}), (REQUEST,), **request_fields) == expected


def test_two_roles_merge_lists_and_take_the_larger_number() -> None:
    """Request + Gpu: vm sizes and locations are merged, node counts at their maximum."""
    policy = settings(
        {
            REQUEST: {
                "vm_sizes": ["Standard_D4s_v5"],
                "locations": ["westeurope"],
                "max_node_count": 3,
            },
            GPU: {
                "vm_sizes": ["Standard_NC24ads_A100_v4"],
                "locations": ["eastus"],
                "max_node_count": 8,
            },
        }
    )
    both = (REQUEST, GPU)
    assert (
        code(policy, both, vm_size="Standard_NC24ads_A100_v4", location="eastus", node_count=8)
        is None
    )
    assert code(policy, (REQUEST,), vm_size="Standard_NC24ads_A100_v4") == "VmSizeNotAllowed"
    assert code(policy, both, node_count=9) == "NodeCountNotAllowed"


def test_the_global_cap_still_wins() -> None:
    """A rule wider than the global settings is cut down to them."""
    policy = settings(
        {
            REQUEST: {
                "vm_sizes": ["Standard_D4s_v5", "Standard_ND96isr_H100_v5"],
                "max_node_count": 500,
                "locations": ["westeurope", "australiaeast"],
                "max_in_flight": 50,
            }
        },
        MAX_IN_FLIGHT_PER_REQUESTER="4",
    )
    assert code(policy, (REQUEST,), vm_size="Standard_ND96isr_H100_v5") == "VmSizeNotAllowed"
    assert code(policy, (REQUEST,), location="australiaeast") == "LocationNotAllowed"
    limits = limits_for_roles((REQUEST,), policy.request_policy, policy.global_limits)
    assert limits.max_node_count == 50
    assert limits.max_in_flight == 4


def test_a_field_absent_from_a_rule_takes_the_global_value() -> None:
    """A role that sets only vm_sizes keeps the global locations; merged with it, so does Gpu."""
    policy = settings(
        {REQUEST: {"locations": ["westeurope"]}, GPU: {"vm_sizes": ["Standard_D8s_v5"]}}
    )
    assert code(policy, (REQUEST, GPU), location="eastus") is None  # Gpu has no location rule
    assert code(policy, (REQUEST,), location="eastus") == "LocationNotAllowed"


def test_a_number_absent_from_a_rule_takes_the_global_value() -> None:
    """Numbers combine as lists do: one role leaving max_node_count to the settings gives the
    global value, however low the other role's; both setting it gives the larger."""
    policy = settings(
        {REQUEST: {"max_node_count": 3}, GPU: {"vm_sizes": ["Standard_D8s_v5"]}},
        MAX_NODE_COUNT="40",
    )
    caps = policy.global_limits
    assert limits_for_roles((REQUEST, GPU), policy.request_policy, caps).max_node_count == 40
    assert limits_for_roles((REQUEST,), policy.request_policy, caps).max_node_count == 3
    both = settings({REQUEST: {"max_node_count": 3}, GPU: {"max_node_count": 8}})
    limits = limits_for_roles((REQUEST, GPU), both.request_policy, both.global_limits)
    assert limits.max_node_count == 8


def test_a_role_without_a_rule_adds_nothing() -> None:
    """A role absent from the policy does not widen anything (only Request means 'global')."""
    policy = settings({REQUEST: {"vm_sizes": ["Standard_D4s_v5"]}})
    assert code(policy, (REQUEST, "Some.Other"), vm_size="Standard_D8s_v5") == "VmSizeNotAllowed"


def test_queue_rule_false_refuses_and_max_in_flight_applies_only_when_set() -> None:
    """'$queue': false refuses queue messages; a '$queue' max_in_flight limits them together."""
    refused = settings({"$queue": False})
    assert limits_for_queue(refused.request_policy, refused.global_limits) is None
    limited = settings({"$queue": {"max_in_flight": 2, "vm_sizes": ["Standard_D4s_v5"]}})
    queue = limits_for_queue(limited.request_policy, limited.global_limits)
    assert queue is not None
    assert queue.max_in_flight == 2
    assert queue.vm_sizes == frozenset({"standard_d4s_v5"})


@pytest.mark.parametrize(
    ("policy", "requester", "limit"),
    [
        ({}, ALICE, 5),  # MAX_IN_FLIGHT_PER_REQUESTER's default
        ({REQUEST: {"max_in_flight": 2}}, ALICE, 5),  # no token: her roles are unknown
        ({"$queue": {"max_in_flight": 2}}, QUEUE, 2),
        ({}, QUEUE, None),  # queue messages are limited only when "$queue" says so
        ({"$queue": False}, QUEUE, None),
    ],
)
def test_a_redrive_is_held_to_its_requesters_in_flight_limit(
    policy: dict[str, Any], requester: Requester, limit: int | None
) -> None:
    """A re-drive carries no token: a user or app is held to MAX_IN_FLIGHT_PER_REQUESTER (the cap
    of every rule); a queue request to the "$queue" rule's max_in_flight, if it sets one."""
    rules = settings(policy)
    held = limits_for_redrive(requester, rules.request_policy, rules.global_limits)
    assert held.max_in_flight == limit
