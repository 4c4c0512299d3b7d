"""The stand-in's WSGI app: OpenID Connect metadata and the JWKS of one tenant.

Paths are Entra's: ``/{tenant}/v2.0/.well-known/openid-configuration`` and the ``jwks_uri`` it
names, ``/{tenant}/discovery/v2.0/keys``. Other modules (e.g. interactive sign-in) add routes
through :meth:`EntraApp.add_route`; the metadata already names Entra's ``authorize`` and
``token`` endpoints, so a client library can discover them.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from localazure.entra.mint import Tenant

# handler(request, tenant, **route parameters) -> response
Handler = Callable[..., Response]
StartResponse = Callable[..., Any]

METADATA_PATH = "/v2.0/.well-known/openid-configuration"
KEYS_PATH = "/discovery/v2.0/keys"


def json_response(status: int, body: dict[str, Any]) -> Response:
    # Entra serves metadata and keys to browsers (MSAL.js) from any origin.
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json; charset=utf-8",
        headers={"Access-Control-Allow-Origin": "*"},
    )


def oauth_error_body(error: str, description: str) -> dict[str, str]:
    """Entra's error shape: ``error`` plus an ``AADSTS``-prefixed ``error_description``."""
    return {"error": error, "error_description": description}


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, oauth_error_body(error, description))


_CLAIMS = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "name",
    "preferred_username",
    "oid",
    "tid",
    "ver",
    "roles",
]


def metadata_document(tenant: Tenant) -> dict[str, Any]:
    base = f"{tenant.authority_host.rstrip('/')}/{tenant.tenant_id}"
    return {
        "issuer": tenant.issuer,
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "jwks_uri": f"{base}{KEYS_PATH}",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": _CLAIMS,
        "tenant_region_scope": None,
        "cloud_instance_name": "localazure",
    }


class EntraApp:
    """WSGI callable. Counts the requests per path kind (``metadata``, ``keys``, added names)."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.add_route("GET", METADATA_PATH, "metadata", _metadata)
        self.add_route("GET", KEYS_PATH, "keys", _keys)

    def add_route(self, method: str, path: str, name: str, handler: Handler) -> None:
        """Serve ``method {tenant}{path}`` (``path`` may hold ``(?P<...>)`` groups) by
        ``handler(request, tenant, **groups)``; ``name`` is what :meth:`count` counts."""
        pattern = re.compile(rf"^/(?P<tenant_segment>[^/]+){path}/?$")
        self._routes.append((method.upper(), pattern, name, handler))

    def count(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        for method, pattern, name, handler in self._routes:
            found = pattern.match(request.path)
            if found is None:
                continue
            if request.method == "OPTIONS":
                return _preflight()
            if request.method != method:
                continue
            params = found.groupdict()
            segment = params.pop("tenant_segment")
            if segment.lower() != self.tenant.tenant_id.lower():
                return oauth_error(
                    400,
                    "invalid_tenant",
                    f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have "
                    "the correct tenant ID and are signing into the correct cloud.",
                )
            with self._lock:
                self._counts[name] += 1
            return handler(request, self.tenant, **params)
        return oauth_error(404, "not_found", request.path)


def _preflight() -> Response:
    return Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization",
        },
    )


def _metadata(request: Request, tenant: Tenant) -> Response:
    return json_response(200, metadata_document(tenant))


def _keys(request: Request, tenant: Tenant) -> Response:
    return json_response(200, tenant.keys.jwks())
