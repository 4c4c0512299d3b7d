"""The ARM WSGI app: admin routes, fault injection, bearer check, routing and the call log."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from localazure.arm import errors
from localazure.arm.clusters import handle_cluster, handle_operation, handle_operation_result
from localazure.arm.compute import handle_skus, handle_usages
from localazure.arm.control import ScenarioControl
from localazure.arm.groups import handle_delete_job, handle_group
from localazure.arm.permissions import handle_permissions
from localazure.arm.providers import handle_provider, handle_register
from localazure.arm.scenario import Fault, TokenBucket
from localazure.arm.store import Call, Store, now_iso
from localazure.arm.wire import Exchange
from localazure.serving import SOCKET_KEY

Handler = Callable[..., Response]
StartResponse = Callable[..., Any]

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_AKS = r"/providers/Microsoft\.ContainerService"
_GROUP = r"/resourcegroups/(?P<group>[^/]+)"


def _route(path: str, handler: Handler) -> tuple[re.Pattern[str], Handler]:
    """A route for ``path`` under a subscription, anchored at both ends; ARM matches paths
    case-insensitively, and so do these."""
    return re.compile(rf"^{_SUB}{path}$", re.I), handler


ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    _route(_GROUP, handle_group),
    _route(rf"{_GROUP}{_AKS}/managedClusters/(?P<name>[^/]+)", handle_cluster),
    _route(rf"{_AKS}/locations/[^/]+/operations/(?P<op_id>[^/]+)", handle_operation),
    _route(rf"{_AKS}/locations/[^/]+/operationresults/(?P<op_id>[^/]+)", handle_operation_result),
    _route(r"/operationresults/(?P<token>[^/]+)", handle_delete_job),
    _route(r"/providers/(?P<namespace>[^/]+)/register", handle_register),
    _route(r"/providers/Microsoft\.Authorization/permissions", handle_permissions),
    _route(r"/providers/Microsoft\.Compute/locations/(?P<loc>[^/]+)/usages", handle_usages),
    _route(r"/providers/Microsoft\.Compute/skus", handle_skus),
    _route(r"/providers/(?P<namespace>[^/]+)", handle_provider),
]

_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
# ARM's throttling buckets: reads, writes and deletes are counted separately.
_BUCKETS = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}


def _subscription(path: str) -> str:
    match = re.match(r"^/subscriptions/([^/]+)", path, re.I)
    return match.group(1) if match else ""


class ConnectionDropped(ConnectionAbortedError):
    """Raised after closing the socket so Werkzeug treats the request as a lost client."""


def denied_action(method: str, path: str) -> str:
    """The RBAC action ARM would have checked for this request."""
    verb = _VERBS.get(method.upper(), "action")
    if re.search(r"/managedClusters/[^/]+$", path, re.I):
        return f"Microsoft.ContainerService/managedClusters/{verb}"
    register = re.search(r"/providers/([^/]+)/register$", path, re.I)
    if register:
        return f"{register.group(1)}/register/action"
    if re.search(r"/resourcegroups/[^/]+$", path, re.I):
        # ARM names this action in lowercase in AuthorizationFailed.
        return f"Microsoft.Resources/subscriptions/resourcegroups/{verb}"
    return f"Microsoft.Resources/{verb}"


class ArmApp:
    """WSGI callable serving the emulated ARM endpoint."""

    def __init__(self, store: Store, control: ScenarioControl, url: Callable[[], str]) -> None:
        self._store = store
        self._control = control
        self._url = url

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        ex = Exchange(request, self._url())
        if request.path.startswith("/_admin/"):
            return self._admin(ex)(environ, start_response)
        status = 0
        try:
            response = self._answer(ex, environ)
            status = response.status_code
        finally:
            call = Call(
                time=time.time(),
                method=ex.method,
                path=ex.path,
                query=dict(request.args.items()),
                status=status,
                body=ex.body,
                headers=ex.logged_headers(),
            )
            self._store.log_call(call)
        self._run_hooks(call, environ, response)
        return response(environ, start_response)

    def _run_hooks(self, call: Call, environ: dict[str, Any], response: Response) -> None:
        """Answered, logged, not yet on the wire: what ``on_call`` callbacks observe."""
        with self._store.lock:
            hooks = [h for h in self._store.state.hooks if h.matches(call.method, call.path)]
        if not hooks:
            return
        peer_port = int(environ.get("REMOTE_PORT") or 0)
        headers = dict(response.headers.items())
        for hook in hooks:  # outside the lock: a callback may take its time (kill a process)
            hook.callback(call, peer_port, headers)

    def _answer(self, ex: Exchange, environ: dict[str, Any]) -> Response:
        with self._store.lock:
            fault = self._take_fault(ex)
        bucket: tuple[str, TokenBucket] | None = None
        try:
            if fault is not None:
                self._inject(fault, ex, environ)
            ex.check_bearer()
            with self._store.lock:
                bucket = self._bucket(ex)
                wait = bucket[1].take() if bucket else 0.0
                if wait > 0 and bucket is not None:
                    raise errors.subscription_throttled(
                        bucket[0][:-1], _subscription(ex.path), max(1, math.ceil(wait))
                    )
                response = self._route(ex)
        except errors.ArmError as error:
            response = ex.respond_error(error)
        except ConnectionDropped:
            raise
        except Exception as exc:  # an emulator bug must still look like an ARM 500
            return ex.respond_error(errors.ArmError(500, "InternalServerError", repr(exc)))
        if bucket is not None:  # ARM tells every caller how many requests remain
            kind, tokens = bucket
            response.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(
                tokens.remaining()
            )
        return response

    def _bucket(self, ex: Exchange) -> tuple[str, TokenBucket] | None:
        """The subscription's token bucket for this kind of request, when throttling is on."""
        limits = self._store.state.throttle_limits
        subscription = _subscription(ex.path).lower()
        if limits is None or not subscription:
            return None
        kind = _BUCKETS.get(ex.method, "writes")
        bucket = self._store.state.buckets.get((subscription, kind))
        if bucket is None:
            bucket = self._store.state.buckets[(subscription, kind)] = TokenBucket(*limits[kind])
        return kind, bucket

    def _take_fault(self, ex: Exchange) -> Fault | None:
        for fault in self._store.state.faults:
            if fault.matches(ex.method, ex.path):
                fault.fire()
                return fault
        return None

    def _inject(self, fault: Fault, ex: Exchange, environ: dict[str, Any]) -> None:
        action = fault.action or denied_action(ex.method, ex.path)
        scope = fault.scope or ex.path
        if fault.kind == "throttle":
            raise errors.throttled(fault.retry_after)
        if fault.kind == "server_error":
            raise errors.internal_error(ex.correlation_id)
        if fault.kind == "unavailable":
            raise errors.service_unavailable(fault.retry_after)
        if fault.kind == "unauthorized":
            raise errors.unauthorized_fault()
        if fault.kind == "forbidden":
            raise errors.authorization_failed(action, scope)
        name = ex.path.rstrip("/").rsplit("/", 1)[-1]  # the resource the path names
        if fault.kind == "policy":
            raise errors.request_disallowed_by_policy(name, _subscription(ex.path))
        if fault.kind == "operation_not_allowed":
            raise errors.operation_not_allowed(name, str(uuid.uuid4()), now_iso())
        # "drop": close the TCP connection without a TLS close_notify or an HTTP answer.
        sock = environ.get(SOCKET_KEY)
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionDropped("connection dropped by fault injection")

    def _route(self, ex: Exchange) -> Response:
        path = ex.path.rstrip("/") or "/"
        for pattern, handler in ROUTES:
            match = pattern.match(path)
            if match:
                return handler(self._store, ex, *match.groups())
        raise errors.invalid_resource_type(path)

    # -- admin ------------------------------------------------------------------------------

    def _admin(self, ex: Exchange) -> Response:
        # Unauthenticated, so only the machine itself may use it.
        if ex.request.remote_addr not in ("127.0.0.1", "::1"):
            return ex.respond(403, {"error": {"code": "Forbidden", "message": "loopback only"}})
        route = (ex.method, ex.path.rstrip("/").lower())
        try:
            if route == ("GET", "/_admin/calls"):
                return ex.respond(
                    200, {"calls": [dataclasses.asdict(c) for c in self._control.calls]}
                )
            if route == ("GET", "/_admin/tokens"):
                return ex.respond(200, {"tokenFetches": self._control.token_fetches})
            if route == ("POST", "/_admin/reset"):
                self._store.reset()
                return ex.respond(204)
            if route == ("POST", "/_admin/scenario"):
                steps = ex.body if isinstance(ex.body, list) else [ex.body]
                for step in steps:
                    if not isinstance(step, dict) or not isinstance(step.get("setter"), str):
                        raise ValueError('each step must look like {"setter": "...", "args": {}}')
                    self._control.apply(step["setter"], dict(step.get("args") or {}))
                return ex.respond(204)
        except (TypeError, ValueError) as exc:
            return ex.respond(400, {"error": {"code": "InvalidScenario", "message": str(exc)}})
        return ex.respond(404, {"error": {"code": "NotFound", "message": "unknown admin route"}})
