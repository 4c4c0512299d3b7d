"""App Service's managed-identity endpoint (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``).

MSAL (used by azure-identity's ManagedIdentityCredential) sends
``GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...`` with ``X-IDENTITY-HEADER`` and
reads ``access_token`` and ``expires_on``; an answer without them becomes an error built
from ``statusCode`` and ``message``, so failures use that shape.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from localazure.arm.store import Store
from localazure.tokens import PRINCIPAL_ID, mint_token

IDENTITY_PATH = "/msi/token"
IDENTITY_API_VERSION = "2019-08-01"
TOKEN_LIFETIME = 24 * 3600  # App Service hands out day-long tokens


def fetch_arm_token(env: Mapping[str, str], *, timeout: float = 10) -> str:
    """A token for ARM from the identity endpoint of an emulator's exported ``env`` (what
    ``python -m localazure.arm`` prints): MSAL's call, for scripts without azure-identity."""
    query = urllib.parse.urlencode(
        {"resource": env["ARM_ENDPOINT"], "api-version": IDENTITY_API_VERSION}
    )
    request = urllib.request.Request(
        f"{env['IDENTITY_ENDPOINT']}?{query}", headers={"X-IDENTITY-HEADER": env["IDENTITY_HEADER"]}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(json.load(response)["access_token"])


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _failure(status: int, message: str) -> Response:
    return _json(status, {"statusCode": status, "message": message})


class IdentityApp:
    """WSGI callable for the token endpoint; counts tokens per audience in the store."""

    def __init__(self, store: Store, secret: str) -> None:
        self._store = store
        self._secret = secret

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self._answer(Request(environ))(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path.rstrip("/").lower() != IDENTITY_PATH:
            return _failure(404, "Not found")
        if request.method != "GET":
            return _failure(405, "Only GET is supported")
        if request.headers.get("X-IDENTITY-HEADER") != self._secret:
            return _failure(401, "X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER")
        if request.args.get("api-version") != IDENTITY_API_VERSION:
            return _failure(400, f"api-version must be {IDENTITY_API_VERSION}")
        resource = request.args.get("resource", "")
        if not resource:
            return _failure(400, "The 'resource' parameter is required")
        # A user-assigned identity is chosen by client_id, mi_res_id or principal_id.
        client_id = request.args.get("client_id") or PRINCIPAL_ID
        self._store.count_token(resource)
        expires_on = int(time.time()) + TOKEN_LIFETIME
        return _json(
            200,
            {
                "access_token": mint_token(resource, lifetime_seconds=TOKEN_LIFETIME),
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": client_id,
            },
        )
