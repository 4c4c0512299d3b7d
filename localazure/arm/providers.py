"""Provider registration for ``Microsoft.ContainerService``; other namespaces are registered."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.errors import CONTAINER_SERVICE
from localazure.arm.store import Store
from localazure.arm.wire import AKS_API_VERSIONS, RESOURCES_API_VERSIONS, Exchange

LOCATIONS = ["East US", "East US 2", "West Europe", "North Europe", "West US 2", "UK South"]


def provider_body(sub: str, namespace: str, state: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"/subscriptions/{sub}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [],
    }
    if namespace.lower() == CONTAINER_SERVICE.lower():
        body["namespace"] = CONTAINER_SERVICE
        body["id"] = f"/subscriptions/{sub}/providers/{CONTAINER_SERVICE}"
        body["resourceTypes"] = [
            {
                "resourceType": "managedClusters",
                "locations": LOCATIONS,
                "apiVersions": list(AKS_API_VERSIONS),
                "capabilities": "SystemAssignedResourceIdentity, SupportsTags, SupportsLocation",
            },
            {
                "resourceType": "locations/operations",
                "locations": LOCATIONS,
                "apiVersions": list(AKS_API_VERSIONS),
            },
        ]
    return body


def _is_aks(namespace: str) -> bool:
    return namespace.lower() == CONTAINER_SERVICE.lower()


def handle_provider(store: Store, ex: Exchange, sub: str, namespace: str) -> Response:
    ex.require_api_version(RESOURCES_API_VERSIONS, "providers")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    # Each provider GET is one observation of a registration in progress.
    state = store.registration_state(sub, observe=True) if _is_aks(namespace) else "Registered"
    return ex.respond(200, provider_body(sub, namespace, state))


def handle_register(store: Store, ex: Exchange, sub: str, namespace: str) -> Response:
    ex.require_api_version(RESOURCES_API_VERSIONS, "providers/register")
    if ex.method != "POST":
        raise errors.method_not_allowed(ex.method)
    if not _is_aks(namespace):
        return ex.respond(200, provider_body(sub, namespace, "Registered"))
    registration = store.state.registrations.get(sub.lower())
    if registration is not None and registration.state == "NotRegistered":
        registration.state = "Registering"
        registration.progress = registration.delay.countdown()
    state = store.registration_state(sub, observe=False)
    return ex.respond(200, provider_body(sub, namespace, state))
