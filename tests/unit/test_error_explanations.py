"""The classifier of ARM errors (``errors.classify``, ``ArmCallFailed``): code first, then
status; and its knowledge of ARM texts: what NoRegisteredProviderFound and a policy denial mean
to an operator (issue 15)."""

from __future__ import annotations

import json

import pytest

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


# --- ArmCallFailed.as_error and classify ----------------------------------------------------


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_throttling_timeouts_and_server_errors_are_transient(status: int | None) -> None:
    """No status (dropped connection), 408, 429 and 5xx are retried later."""
    error = ArmCallFailed(status, ErrorInfo("Whatever", "m"), 12.0).as_error()
    assert isinstance(error, TransientError)
    assert error.retry_after == 12.0
    assert error.info.code == "Whatever"


@pytest.mark.parametrize("status", [501, 505, 507, 511])
def test_every_5xx_is_transient(status: int) -> None:
    """Every 5xx status is transient, not only the common four."""
    assert isinstance(ArmCallFailed(status, ErrorInfo("X", "m")).as_error(), TransientError)


@pytest.mark.parametrize(
    "code",
    [
        "AnotherOperationInProgress",
        "RetryableError",
        "TooManyRequests",
        "ServerTimeout",
        "MissingSubscriptionRegistration",
    ],
)
@pytest.mark.parametrize("status", [400, 409])
def test_transient_codes_are_transient_whatever_the_status(code: str, status: int) -> None:
    """ARM's retry-later codes are transient even on a 4xx status."""
    assert isinstance(ArmCallFailed(status, ErrorInfo(code, "m")).as_error(), TransientError)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "InvalidParameter"),
        (403, "AuthorizationFailed"),
        (404, "ResourceGroupNotFound"),
        (409, "Conflict"),
        (400, "QuotaExceeded"),
        (412, "PreconditionFailed"),
    ],
)
def test_other_errors_are_terminal(status: int, code: str) -> None:
    """Any other status and code is terminal, keeping ARM's error info."""
    info = ErrorInfo(code, "m", correlation_id="corr")
    error = ArmCallFailed(status, info).as_error()
    assert isinstance(error, TerminalError)
    assert not isinstance(error, TransientError)
    assert error.info == info


def test_arm_call_failed_exposes_the_code() -> None:
    """``code`` is ARM's error code, for callers that handle some codes themselves."""
    assert ArmCallFailed(404, ErrorInfo("ResourceNotFound", "m")).code == "ResourceNotFound"


@pytest.mark.parametrize(
    ("code", "status", "handling"),
    [
        ("ResourceGroupNotFound", 404, Handling.BACK_TO_VISIBILITY),
        ("ResourceGroupNotFound", None, Handling.BACK_TO_VISIBILITY),
        ("MissingSubscriptionRegistration", 409, Handling.REGISTER_PROVIDER),
        ("ResourceGroupBeingDeleted", 409, Handling.GROUP_BEING_DELETED),
        ("OperationNotAllowed", 409, Handling.CLUSTER_BUSY),
        ("PreconditionFailed", 412, Handling.EXISTING_CLUSTER),
        ("AnotherOperationInProgress", 409, Handling.TRANSIENT),
        ("TooManyRequests", 400, Handling.TRANSIENT),
        ("Whatever", 429, Handling.TRANSIENT),
        ("Whatever", 503, Handling.TRANSIENT),
        ("ServiceRequestError", None, Handling.TRANSIENT),
        ("AuthorizationFailed", 403, Handling.TERMINAL),
        ("QuotaExceeded", 400, Handling.TERMINAL),
    ],
)
def test_classify_reads_the_code_first_then_the_status(
    code: str, status: int | None, handling: Handling
) -> None:
    """One classifier: a known ARM code decides; otherwise 412, then 408/429/5xx, then terminal."""
    assert classify(code, status) is handling
    assert ArmCallFailed(status, ErrorInfo(code, "m")).handling is handling
