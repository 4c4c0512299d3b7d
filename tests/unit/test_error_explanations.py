"""The classifier's knowledge of ARM texts: what NoRegisteredProviderFound and a policy denial
mean to an operator (issue 15)."""

from __future__ import annotations

import json

from provisioning.errors import (
    ArmCallFailed,
    ErrorInfo,
    Handling,
    TerminalError,
    TransientError,
    classify,
    explained,
    policy_identifiers,
)

ASSIGNMENT = "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/deny-aks"
DEFINITION = "/subscriptions/s/providers/Microsoft.Authorization/policyDefinitions/deny-aks-def"
NO_PROVIDER = (
    "No registered resource provider found for location 'westeurope' and API version "
    "'2026-08-01' for type 'managedClusters'. The supported api-versions are '2025-10-01'. "
    "The supported locations are 'westeurope'."
)


def test_no_registered_provider_is_terminal_and_explained() -> None:
    failure = ArmCallFailed(400, ErrorInfo("NoRegisteredProviderFound", NO_PROVIDER))
    assert failure.handling is Handling.TERMINAL
    error = failure.as_error()
    assert isinstance(error, TerminalError)
    message = error.info.message
    assert message.startswith(
        "AKS api-version 2026-08-01, the one this app's azure-mgmt-containerservice sends, is "
        "not offered in region westeurope. To fix:"
    )
    assert "remove westeurope from ALLOWED_LOCATIONS" in message
    assert message.endswith("ARM said: " + NO_PROVIDER)


def test_other_terminal_errors_keep_arms_text() -> None:
    info = ErrorInfo("MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")
    assert explained(info) is info
    assert ArmCallFailed(400, info).as_error().info == info


def test_arm_throttling_is_transient_with_its_retry_after() -> None:
    assert classify("SubscriptionRequestsThrottled", 429) is Handling.TRANSIENT
    error = ArmCallFailed(429, ErrorInfo("SubscriptionRequestsThrottled", "…"), 3.0).as_error()
    assert isinstance(error, TransientError) and error.retry_after == 3.0


def test_policy_identifiers_from_additional_info() -> None:
    error = {
        "code": "RequestDisallowedByPolicy",
        "message": "Resource 'rg' was disallowed by policy. Policy identifiers: '[]'.",
        "additionalInfo": [
            {"type": "SomethingElse", "info": {}},
            "not a mapping",
            {
                "type": "PolicyViolation",
                "info": {
                    "policyAssignmentDisplayName": "Deny AKS",
                    "policyAssignmentId": ASSIGNMENT,
                    "policyDefinitionDisplayName": "Deny AKS definition",
                    "policyDefinitionId": DEFINITION,
                    "policyDefinitionEffect": "deny",
                },
            },
        ],
    }
    assert policy_identifiers(error) == (
        f"policy assignment 'Deny AKS' ({ASSIGNMENT}), definition 'Deny AKS definition' "
        f"({DEFINITION}), effect deny",
    )


def test_policy_identifiers_from_the_message_alone() -> None:
    identifiers = [
        {
            "policyAssignment": {"name": "Deny AKS", "id": ASSIGNMENT},
            "policyDefinition": {"name": "Deny AKS definition", "id": DEFINITION},
        }
    ]
    message = (
        f"Resource 'c1' was disallowed by policy. Policy identifiers: "
        f"'{json.dumps(identifiers, separators=(',', ':'))}'."
    )
    assert policy_identifiers({"message": message}) == (
        f"policy assignment 'Deny AKS' ({ASSIGNMENT}), definition 'Deny AKS definition' "
        f"({DEFINITION})",
    )
    assert policy_identifiers({"message": "Policy identifiers: '[not json]'."}) == ()
    assert policy_identifiers({}) == ()
