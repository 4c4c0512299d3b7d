"""Serve the app's HTTP-triggered functions under ``/<routePrefix>/<route>`` (``/api/...``).

As with ``func start``, auth levels are not enforced. A route that matches but whose methods
exclude the request's method answers 404, as the host's routing does. With a CORS policy
(``Host.CORS``/``--cors``), the host answers preflights itself and adds the CORS headers to
function responses (see :mod:`localazure.host.cors`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import azure.functions as func
from werkzeug.wrappers import Request, Response

from localazure.host.app import HttpFunction
from localazure.host.cors import CorsPolicy, is_preflight
from localazure.host.worker import Worker
from localazure.serving import ThreadedServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("localazure.host")


class HttpHost:
    """A WSGI app dispatching to HTTP-triggered functions, and its loopback server."""

    def __init__(
        self,
        functions: list[HttpFunction],
        route_prefix: str,
        worker: Worker,
        cors: CorsPolicy | None = None,
    ) -> None:
        self.functions = functions
        self.cors = cors
        self.route_prefix = route_prefix.strip("/")
        self._worker = worker
        self._server = ThreadedServer(self, name="localhost-http")

    def match(self, method: str, path: str) -> tuple[HttpFunction, dict[str, str]] | None:
        """The function serving ``method path`` and its route parameters, if any."""
        relative = path.strip("/")
        if self.route_prefix:
            prefix = self.route_prefix.lower()
            if relative.lower() == prefix:
                relative = ""
            elif relative.lower().startswith(prefix + "/"):
                relative = relative[len(prefix) + 1 :]
            else:
                return None
        for function in self.functions:
            found = function.pattern.match(relative)
            if found and method.upper() in function.methods:
                params = {k: v for k, v in found.groupdict().items() if v is not None}
                return function, params
        return None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        if self.cors is None:
            return self._dispatch(request)
        # EnvironHeaders spell names as Title-Case, the form the policy looks up.
        headers = dict(request.headers.items())
        if is_preflight(request.method, headers):
            return Response(status=204, headers=self.cors.preflight(headers))
        response = self._dispatch(request)
        for name, value in self.cors.actual(headers):
            response.headers.add(name, value)
        return response

    def _dispatch(self, request: Request) -> Response:
        if request.path.strip("/") == "":
            return Response("The local function host is running.\n", mimetype="text/plain")
        found = self.match(request.method, request.path)
        if found is None:
            return Response(status=404)
        function, route_params = found
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers.items()),
            params=dict(request.args.items()),
            route_params=route_params,
            body=request.get_data(),
        )
        invocation_id = str(uuid.uuid4())
        function_log = logging.getLogger(f"Function.{function.name}")
        function_log.info(
            "Executing 'Functions.%s' (Reason='This function was programmatically called via "
            "the host APIs.', Id=%s)",
            function.name,
            invocation_id,
        )
        started = time.monotonic()
        future = self._worker.invoke(
            function.name,
            invocation_id,
            lambda runner: runner.call(function.user_function, {function.parameter: http_request}),
        )
        try:
            result = future.result()
        except Exception:
            function_log.exception(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)",
                function.name,
                invocation_id,
                (time.monotonic() - started) * 1000,
            )
            return Response(status=500)
        function_log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)",
            function.name,
            invocation_id,
            (time.monotonic() - started) * 1000,
        )
        return to_werkzeug_response(result)

    # -- server ----------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start serving on a background thread; returns the bound port."""
        return self._server.start(host, port)

    def shutdown(self) -> None:
        self._server.stop()


def to_werkzeug_response(result: Any) -> Response:
    """The HTTP response for a function's return value (HttpResponse, str, bytes or None)."""
    if result is None:
        return Response(status=204)
    if isinstance(result, str | bytes):
        return Response(result, mimetype="text/plain")
    if not isinstance(result, func.HttpResponse):
        raise TypeError(f"an HTTP function returned {type(result).__name__}, not HttpResponse")
    headers = [(k, v) for k, v in result.headers.items() if k.lower() != "content-type"]
    content_type = result.headers.get("content-type")
    if not content_type:
        content_type = f"{result.mimetype}; charset={result.charset}"
    return Response(
        result.get_body(),
        status=result.status_code,
        headers=headers,
        content_type=content_type,
    )
