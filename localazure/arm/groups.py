"""Resource groups: ``/subscriptions/{sub}/resourcegroups/{rg}`` and their delete jobs."""

from __future__ import annotations

import base64
import json
from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.catalog import RESOURCES_API_VERSIONS
from localazure.arm.store import Group, Store, normalize_location
from localazure.arm.wire import Exchange

GROUP_TYPE = "Microsoft.Resources/resourceGroups"


def group_body(group: Group) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"/subscriptions/{group.subscription}/resourceGroups/{group.name}",
        "name": group.name,
        "type": GROUP_TYPE,
        "location": group.location,
        "properties": {"provisioningState": group.provisioning_state},
    }
    if group.tags:
        body["tags"] = dict(group.tags)
    if group.managed_by:
        body["managedBy"] = group.managed_by
    return body


def handle_group(store: Store, ex: Exchange, subscription: str, name: str) -> Response:
    ex.require_api_version(RESOURCES_API_VERSIONS, GROUP_TYPE)
    method = ex.method
    if method in ("GET", "HEAD"):
        group = store.group(subscription, name)
        if group is None or group.hidden_from_reads():
            if method == "HEAD":
                return ex.respond(404)
            raise errors.resource_group_not_found(name)
        if group.deleting is not None:
            group.deleting.observe()
        return ex.respond(204) if method == "HEAD" else ex.respond(200, group_body(group))
    if method == "PUT":
        return _put_group(store, ex, subscription, name)
    if method == "DELETE":
        return _delete_group(store, ex, subscription, name)
    if method == "PATCH":
        return _patch_group(store, ex, subscription, name)
    raise errors.method_not_allowed(method)


def _put_group(store: Store, ex: Exchange, subscription: str, name: str) -> Response:
    body = ex.require_json_object()
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise errors.location_required()
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise errors.invalid_request_content("'tags' must be an object.")
    group = store.group(subscription, name)
    if group is not None and group.deleting is not None:
        raise errors.group_being_deleted(group.name)
    if group is not None:
        if normalize_location(location) != group.location:
            raise errors.invalid_group_location(location, group.location)
        group.tags = {str(k): str(v) for k, v in tags.items()}  # PUT replaces the tags
        if isinstance(body.get("managedBy"), str):
            group.managed_by = body["managedBy"]
        return ex.respond(200, group_body(group))
    group = store.create_group(subscription, name, location)
    group.tags = {str(k): str(v) for k, v in tags.items()}
    if isinstance(body.get("managedBy"), str):
        group.managed_by = body["managedBy"]
    return ex.respond(201, group_body(group))


def writable_group(store: Store, subscription: str, name: str) -> Group:
    """The group a write goes into (a PATCH of it, a resource created in it): absent, 404
    ``ResourceGroupNotFound``; while it is being deleted, 409 ``ResourceGroupBeingDeleted``."""
    group = store.group(subscription, name)
    if group is None:
        raise errors.resource_group_not_found(name)
    if group.deleting is not None:
        raise errors.group_being_deleted(group.name)
    return group


def _patch_group(store: Store, ex: Exchange, subscription: str, name: str) -> Response:
    body = ex.require_json_object()
    group = writable_group(store, subscription, name)
    if isinstance(body.get("tags"), dict):
        group.tags = {str(k): str(v) for k, v in body["tags"].items()}
    return ex.respond(200, group_body(group))


def _delete_group(store: Store, ex: Exchange, subscription: str, name: str) -> Response:
    group = store.group(subscription, name)
    if group is None:
        raise errors.resource_group_not_found(name)
    if group.deleting is None:
        store.start_delete(group)
    # ARM's delete job token is opaque base64 JSON; keep the same look.
    job = {"jobId": f"ResourceGroupDeletionJob-{group.name.upper()}", "jobLocation": group.location}
    token = base64.urlsafe_b64encode(json.dumps(job).encode()).decode().rstrip("=")
    store.state.delete_jobs[token] = (subscription.lower(), name.lower())
    location = (
        f"{ex.url}/subscriptions/{subscription}/operationresults/{token}"
        f"?api-version={ex.api_version()}"
    )
    return ex.respond(202, None, ex.retry_after(store.state.retry_after, {"Location": location}))


def handle_delete_job(store: Store, ex: Exchange, subscription: str, token: str) -> Response:
    ex.require_api_version(RESOURCES_API_VERSIONS, "operationresults")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    key = store.state.delete_jobs.get(token)
    if key is None:
        raise errors.ArmError(404, "NotFound", f"The operation result '{token}' was not found.")
    group = store.group(*key)
    if group is not None and group.deleting is not None and group.deleting.observe():
        headers = ex.retry_after(store.state.retry_after, {"Location": ex.request.url})
        return ex.respond(202, None, headers)
    if group is not None and group.deleting is not None:
        store.remove_group(key)
    return ex.respond(200)
