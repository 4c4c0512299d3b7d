"""ARM's wire conventions: request ids, JSON bodies, api-version checks and bearer tokens."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from localazure.arm import errors
from localazure.tokens import token_problem

# Request headers copied into the call log.
LOGGED_HEADERS = (
    "If-None-Match",
    "If-Match",
    "Content-Type",
    "x-ms-client-request-id",
    "x-ms-correlation-request-id",
    "User-Agent",
)


@dataclass
class Exchange:
    """One request being answered, with the ids every ARM response carries."""

    request: Request
    url: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = ""
    body: Any = None

    def __post_init__(self) -> None:
        # ARM keeps the caller's correlation id so one logical operation can be traced.
        self.correlation_id = self.request.headers.get("x-ms-correlation-request-id") or str(
            uuid.uuid4()
        )
        raw = self.request.get_data(cache=True)
        if raw:
            try:
                self.body = json.loads(raw)
            except ValueError:
                self.body = None

    @property
    def method(self) -> str:
        return self.request.method.upper()

    @property
    def path(self) -> str:
        return self.request.path

    def api_version(self) -> str | None:
        for key, value in self.request.args.items():
            if key.lower() == "api-version":
                return value
        return None

    def require_api_version(self, supported: Sequence[str], resource_type: str) -> str:
        version = self.api_version()
        if not version:
            raise errors.missing_api_version()
        if version not in supported:
            raise errors.invalid_api_version(version, resource_type, supported)
        return version

    def require_json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise errors.invalid_request_content("the body must be a JSON object.")
        return self.body

    def check_bearer(self) -> None:
        """Refuse calls without a token minted for this endpoint, as ARM does."""
        header = self.request.headers.get("Authorization", "")
        if not header:
            raise errors.authentication_failed_missing()
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.invalid_token("the 'Authorization' header is not a bearer token", self.url)
        # Like ARM, which takes tokens for both its current and its classic audience, the
        # emulator takes its loopback name in either spelling (127.0.0.1 and localhost).
        aliases = {self.url, self.url.replace("://127.0.0.1:", "://localhost:")}
        problem = token_problem(token.strip(), aliases | {alias + "/" for alias in aliases})
        if problem is not None:
            raise errors.invalid_token(problem, self.url)

    def respond(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        response = Response(status=status)
        if body is not None and self.method != "HEAD":
            response.set_data(json.dumps(body))
            response.content_type = "application/json; charset=utf-8"
        else:
            response.headers["Content-Length"] = "0"
        response.headers["x-ms-request-id"] = self.request_id
        response.headers["x-ms-correlation-request-id"] = self.correlation_id
        response.headers["x-ms-routing-request-id"] = f"LOCALAZURE:{self.request_id}"
        client_request_id = self.request.headers.get("x-ms-client-request-id")
        if client_request_id:
            response.headers["x-ms-client-request-id"] = client_request_id
        response.headers["Cache-Control"] = "no-cache"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def respond_error(self, error: errors.ArmError) -> Response:
        return self.respond(error.status, error.body(), error.headers)

    def retry_after(self, seconds: int, headers: dict[str, str]) -> dict[str, str]:
        """``headers`` plus ``Retry-After`` unless the scenario turned it off (0)."""
        if seconds > 0:
            headers["Retry-After"] = str(seconds)
        return headers

    def logged_headers(self) -> dict[str, str]:
        return {
            name: self.request.headers[name]
            for name in LOGGED_HEADERS
            if name in self.request.headers
        }
