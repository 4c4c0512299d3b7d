"""Provider registration for ``Microsoft.ContainerService``; other namespaces are registered."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.catalog import LOCATIONS, RESOURCES_API_VERSIONS
from localazure.arm.errors import CONTAINER_SERVICE
from localazure.arm.store import Store, default_aks_offer, normalize_location
from localazure.arm.wire import Exchange

_DISPLAY = {normalize_location(name): name for name in LOCATIONS}


def offered(offer: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """ARM flattens the provider's endpoints: the regions offering the type at all (display
    names) and the union of their api-versions (newest first)."""
    regions = [_DISPLAY.get(region, region) for region, versions in offer.items() if versions]
    union = {v for versions in offer.values() for v in versions}
    return regions, sorted(union, reverse=True)


def provider_body(
    sub: str, namespace: str, state: str, offer: dict[str, tuple[str, ...]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"/subscriptions/{sub}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": state,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [],
    }
    if namespace.lower() == CONTAINER_SERVICE.lower():
        locations, versions = offered(offer or default_aks_offer())
        body["namespace"] = CONTAINER_SERVICE
        body["id"] = f"/subscriptions/{sub}/providers/{CONTAINER_SERVICE}"
        body["resourceTypes"] = [
            {
                "resourceType": "managedClusters",
                "locations": locations,
                "apiVersions": versions,
                "capabilities": "SystemAssignedResourceIdentity, SupportsTags, SupportsLocation",
            },
            {
                "resourceType": "locations/operations",
                "locations": locations,
                "apiVersions": versions,
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
    return ex.respond(200, provider_body(sub, namespace, state, store.state.aks_offer))


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
    return ex.respond(200, provider_body(sub, namespace, state, store.state.aks_offer))
