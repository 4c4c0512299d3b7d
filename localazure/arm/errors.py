"""ARM's error envelope and the exact codes and messages the emulator answers with.

Every failure leaves the emulator as ``{"error": {"code", "message"}}``, the shape
azure-mgmt-core's ``ARMErrorFormat`` parses into ``HttpResponseError.error.code``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from localazure.tokens import PRINCIPAL_ID

CONTAINER_SERVICE = "Microsoft.ContainerService"


class ArmError(Exception):
    """An ARM error answer; raised by handlers, rendered by the router."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
        target: str | None = None,
        additional_info: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details
        self.target = target
        self.additional_info = additional_info

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code}
        if self.target:
            error["target"] = self.target
        error["message"] = self.message
        if self.details:
            error["details"] = self.details
        if self.additional_info:
            error["additionalInfo"] = self.additional_info
        return {"error": error}


def resource_group_not_found(group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")


def resource_not_found(resource_type: str, name: str, group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def invalid_group_location(requested: str, existing: str) -> ArmError:
    return ArmError(
        409,
        "InvalidResourceGroupLocation",
        f"Invalid resource group location '{requested}'. "
        f"The Resource group already exists in location '{existing}'.",
    )


def group_being_deleted(group: str) -> ArmError:
    return ArmError(
        409,
        "ResourceGroupBeingDeleted",
        f"The resource group '{group}' is in deprovisioning state and cannot perform this "
        "operation.",
    )


def missing_registration(namespace: str = CONTAINER_SERVICE) -> ArmError:
    return ArmError(
        409,
        "MissingSubscriptionRegistration",
        f"The subscription is not registered to use namespace '{namespace}'. "
        "See https://aka.ms/rps-not-found for how to register subscriptions.",
        details=[
            {
                "code": "MissingSubscriptionRegistration",
                "target": namespace,
                "message": f"The subscription is not registered to use namespace '{namespace}'. "
                "See https://aka.ms/rps-not-found for how to register subscriptions.",
            }
        ],
    )


def operation_not_allowed(name: str, operation_id: str, started: str) -> ArmError:
    # AKS refuses a second write while one is running on the same cluster.
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Operation is not allowed because there's an in progress create managed cluster "
        f"operation ({operation_id}) on managed cluster '{name}' started at {started}. "
        "Please wait for it to finish before starting a new operation. "
        "See https://aka.ms/aks-pending-operation for more details",
    )


def precondition_failed(name: str) -> ArmError:
    return ArmError(
        412,
        "PreconditionFailed",
        f"The condition specified using HTTP conditional header(s) is not met for resource "
        f"'{name}': If-None-Match '*' requires that the resource does not exist.",
    )


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def invalid_api_version(version: str, resource_type: str, supported: Sequence[str]) -> ArmError:
    return ArmError(
        400,
        "InvalidApiVersionParameter",
        f"The api-version '{version}' is invalid. The supported versions are "
        f"'{','.join(supported)}'. (resource type '{resource_type}')",
    )


def invalid_resource_type(path: str) -> ArmError:
    return ArmError(
        404,
        "InvalidResourceType",
        f"The resource type could not be found for the request path '{path}'.",
    )


def method_not_allowed(method: str) -> ArmError:
    return ArmError(
        405,
        "HttpMethodNotSupported",
        f"The requested resource does not support http method '{method}'.",
    )


def invalid_request_content(why: str) -> ArmError:
    return ArmError(400, "InvalidRequestContent", f"The request content was invalid: {why}")


def location_required() -> ArmError:
    return ArmError(
        400, "LocationRequired", "The location property is required for this definition."
    )


def authentication_failed_missing() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        headers={
            "WWW-Authenticate": _www_authenticate("invalid_token", "missing 'Authorization' header")
        },
    )


def invalid_token(problem: str, audience_hint: str) -> ArmError:
    # ARM answers a token for another resource with its own, more specific code.
    if problem == "wrong audience":
        code = "InvalidAuthenticationTokenAudience"
        message = (
            "The access token has been obtained for wrong audience or resource. It should "
            f"exactly match with one of the allowed audiences '{audience_hint}', "
            f"'{audience_hint}/'."
        )
    elif problem == "expired":
        code = "ExpiredAuthenticationToken"
        message = "The access token expiry UTC time is earlier than current UTC time."
    else:
        code = "InvalidAuthenticationToken"
        message = f"The access token is invalid ({problem})."
    return ArmError(
        401,
        code,
        message,
        headers={"WWW-Authenticate": _www_authenticate("invalid_token", message)},
    )


def _www_authenticate(error: str, description: str) -> str:
    description = description.replace('"', "'")
    return (
        'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        f'error="{error}", error_description="{description}"'
    )


def authorization_failed(action: str, scope: str) -> ArmError:
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{PRINCIPAL_ID}' with object id '{PRINCIPAL_ID}' does not have "
        f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
        "invalid. If access was recently granted, please refresh your credentials.",
    )


POLICY_ASSIGNMENT = "localazure-deny-aks"
POLICY_DEFINITION = "localazure-deny-aks-definition"


def request_disallowed_by_policy(name: str, subscription: str) -> ArmError:
    """ARM's deny: the resource name and the policy identifiers, never an action or a scope."""
    scope = f"/subscriptions/{subscription}"
    assignment = f"{scope}/providers/Microsoft.Authorization/policyAssignments/{POLICY_ASSIGNMENT}"
    definition = f"{scope}/providers/Microsoft.Authorization/policyDefinitions/{POLICY_DEFINITION}"
    identifiers = json.dumps(
        [
            {
                "policyAssignment": {"name": "Deny AKS in this subscription", "id": assignment},
                "policyDefinition": {"name": "Deny AKS", "id": definition},
            }
        ],
        separators=(",", ":"),
    )
    return ArmError(
        403,
        "RequestDisallowedByPolicy",
        f"Resource '{name}' was disallowed by policy. Policy identifiers: '{identifiers}'.",
        target=name,
        additional_info=[
            {
                "type": "PolicyViolation",
                "info": {
                    "evaluationDetails": {"evaluatedExpressions": []},
                    "policyDefinitionDisplayName": "Deny AKS",
                    "policyDefinitionId": definition,
                    "policyDefinitionName": POLICY_DEFINITION,
                    "policyDefinitionEffect": "deny",
                    "policyAssignmentId": assignment,
                    "policyAssignmentName": POLICY_ASSIGNMENT,
                    "policyAssignmentDisplayName": "Deny AKS in this subscription",
                    "policyAssignmentScope": scope,
                    "policyAssignmentParameters": {},
                    "policyExemptionIds": [],
                    "policyEnrollmentIds": [],
                },
            }
        ],
    )


def throttled(retry_after: int) -> ArmError:
    return ArmError(
        429,
        "TooManyRequests",
        "The request is being throttled as the limit has been reached for operation type - "
        "Write_ObservationWindow_00:05:00. For more information, see - "
        "https://aka.ms/srpthrottlinglimits",
        headers={"Retry-After": str(retry_after)},
    )


def internal_error(correlation_id: str) -> ArmError:
    return ArmError(
        500,
        "InternalServerError",
        "Encountered internal server error. Diagnostic information: "
        f"request correlation id '{correlation_id}'.",
    )


def service_unavailable(retry_after: int) -> ArmError:
    return ArmError(
        503,
        "ServiceUnavailable",
        "The server is currently unable to handle the request. Please retry later.",
        headers={"Retry-After": str(retry_after)},
    )


def unauthorized_fault() -> ArmError:
    message = "The access token is invalid (revoked by fault injection)."
    return ArmError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={"WWW-Authenticate": _www_authenticate("invalid_token", message)},
    )


def subscription_throttled(kind: str, subscription: str, retry_after: int) -> ArmError:
    """ARM's own token-bucket throttling (before the resource provider sees the request)."""
    return ArmError(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{kind}' requests for subscription '{subscription}' actor '{PRINCIPAL_ID}' "
        f"exceeded. Please try again after '{retry_after}' seconds after additional tokens are "
        "available. Refer to https://aka.ms/arm-throttling",
        headers={"Retry-After": str(retry_after)},
    )


def no_registered_provider(
    location: str,
    version: str,
    resource_type: str,
    versions: Sequence[str],
    locations: Sequence[str],
) -> ArmError:
    return ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location '{location}' and API version "
        f"'{version}' for type '{resource_type}'. The supported api-versions are "
        f"'{', '.join(versions)}'. The supported locations are '{', '.join(locations)}'.",
    )


# AKS's synchronous refusals of a managed cluster PUT (400, before any operation starts).


def must_define_system_pool() -> ArmError:
    return ArmError(400, "MustDefineAtLeastOneSystemPool", "Must define at least one system pool.")


def system_pool_sku_too_low(pool: str) -> ArmError:
    return ArmError(
        400,
        "SystemPoolSkuTooLow",
        "System node pool must use VM sku with more than 2 cores and 4GB memory. "
        f"Nodepool name: {pool}.",
    )


def kubernetes_version_not_supported(version: str) -> ArmError:
    return ArmError(
        400,
        "AgentPoolK8sVersionNotSupported",
        f"Version {version} is not supported in this region. Please use [az aks get-versions] "
        "command to get the supported version list in this region. For more information, please "
        "check https://aka.ms/supported-version-list",
    )


def vm_size_not_allowed(pool: str, location: str) -> ArmError:
    return ArmError(
        400,
        "BadRequest",
        f"The VM size of AgentPoolProfile:{pool} is not allowed in your subscription in location "
        f"'{location}'.  For more details, please visit https://aka.ms/aks/quotas-skus-regions",
    )


def insufficient_vcpu_quota(requested: int, remaining: int, family: str, location: str) -> ArmError:
    return ArmError(
        400,
        "ErrCode_InsufficientVCPUQuota",
        f"Insufficient vcpu quota requested {requested}, remaining {remaining} for family {family} "
        f"for region {location}.",
    )
