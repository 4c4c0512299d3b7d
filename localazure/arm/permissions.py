"""``Microsoft.Authorization/permissions``: what the caller may do at subscription scope.

The answer is whatever the scenario set (``set_permissions``); by default the built-in
Contributor role (abridged notActions), what a developer signed in to a test subscription
usually holds. The emulator does not enforce these: denials come from ``add_fault("forbidden")``.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.store import Store
from localazure.arm.wire import Exchange

PERMISSIONS_API_VERSIONS = ["2022-04-01", "2018-07-01", "2015-07-01"]
CONTRIBUTOR_NOT_ACTIONS = [
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action",
]


def permission_entry(actions: list[str], not_actions: list[str]) -> dict[str, list[str]]:
    """One role assignment's permissions in the 2022-04-01 shape (data actions listed, empty)."""
    return {
        "actions": list(actions),
        "notActions": list(not_actions),
        "dataActions": [],
        "notDataActions": [],
    }


DEFAULT_PERMISSIONS = [permission_entry(["*"], CONTRIBUTOR_NOT_ACTIONS)]


def handle_permissions(store: Store, ex: Exchange, sub: str) -> Response:
    version = ex.require_api_version(PERMISSIONS_API_VERSIONS, "permissions")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    value = store.state.permissions.get(sub.lower(), DEFAULT_PERMISSIONS)
    if version == "2015-07-01":  # before data actions existed
        value = [{"actions": v["actions"], "notActions": v["notActions"]} for v in value]
    return ex.respond(200, {"value": value})
