"""The HTTP front door's routes: thin adapters from ``func.HttpRequest`` to ``FrontDoor``.

``authLevel`` is anonymous at the Functions level: no function key (a shared, long-lived secret
cannot live in browser code); every call is authenticated in code with an Entra ID token.
"""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from provisioning.front_door import NOT_CONFIGURED, Answer, FrontDoor
from provisioning.runtime import get_front_door

api = func.Blueprint()  # type: ignore[no-untyped-call]
ANONYMOUS = func.AuthLevel.ANONYMOUS
# The platform's CORS (site CORS, func start's Host.CORS) exposes no response header beyond the
# safelisted ones; a page on another origin reads Location and Retry-After only if we say so.
EXPOSED_HEADERS = {"Access-Control-Expose-Headers": "Location, Retry-After, WWW-Authenticate"}


def _respond(call: Callable[[FrontDoor], Answer]) -> func.HttpResponse:
    door = get_front_door()
    answer = NOT_CONFIGURED if door is None else call(door)
    return func.HttpResponse(
        answer.json(),
        status_code=answer.status,
        headers={**answer.headers, **EXPOSED_HEADERS},
        mimetype="application/json",
    )


@api.route(route="provisioning", methods=["POST"], auth_level=ANONYMOUS)
def submit_provisioning(req: func.HttpRequest) -> func.HttpResponse:
    """Accept a cluster request (202 + Location) or refuse it (400/401/403/409/429/503)."""
    return _respond(lambda door: door.submit(req.headers.get("Authorization"), req.get_body()))


@api.route(route="provisioning", methods=["GET"], auth_level=ANONYMOUS)
def list_provisioning(req: func.HttpRequest) -> func.HttpResponse:
    """The caller's own requests, newest first (``?all=true`` with Provisioning.ReadAll)."""
    params = {key: req.params.get(key, "") for key in ("all", "continuation", "page_size")}
    return _respond(lambda door: door.list(req.headers.get("Authorization"), params))


@api.route(route="provisioning/{request_id}", methods=["GET"], auth_level=ANONYMOUS)
def provisioning_status(req: func.HttpRequest) -> func.HttpResponse:
    """One request's status; someone else's answers 404 like an unknown one."""
    request_id = req.route_params.get("request_id", "")
    return _respond(lambda door: door.get(req.headers.get("Authorization"), request_id))
