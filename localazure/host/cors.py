"""CORS as ``func start`` applies it: ``Host.CORS`` / ``--cors`` and ``Host.CORSCredentials``.

Core Tools' ``Startup`` runs ASP.NET Core's CORS middleware with
``WithOrigins(<CORS split on ','>).AllowAnyHeader().AllowAnyMethod()`` (plus
``AllowCredentials()`` when ``CORSCredentials`` is true), only when ``CORS`` is set. That means:

* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered by
  the host itself with 204 and never reaches a function; for an origin not on the list the 204
  carries no ``Access-Control-*`` header, so the browser refuses the real request;
* an allowed origin gets ``Access-Control-Allow-Origin`` (its own value, or ``*`` for a ``*``
  entry without credentials), the requested method and headers echoed, and ``Vary: Origin``;
* no ``Access-Control-Expose-Headers``: a function that wants the browser to read ``Location``
  or ``Retry-After`` sets that header itself (the host passes it through).

Pure: headers in, headers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    """The allowed origins (lowercased, without a trailing ``/``) and whether credentials are."""

    origins: frozenset[str]
    credentials: bool = False

    @classmethod
    def parse(cls, origins: str | Iterable[str], credentials: bool = False) -> CorsPolicy | None:
        """``"https://a,https://b"`` (as ``--cors`` and ``Host.CORS`` take it), or a list; empty
        means no CORS middleware at all (None)."""
        items = origins.split(",") if isinstance(origins, str) else list(origins)
        cleaned = frozenset(o.strip().rstrip("/").lower() for o in items if o.strip())
        return cls(cleaned, credentials) if cleaned else None

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def allows(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    def _origin_headers(self, origin: str) -> Headers:
        if self.any_origin and not self.credentials:
            return [("Access-Control-Allow-Origin", "*")]
        headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if self.credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    def preflight(self, request_headers: Mapping[str, str]) -> Headers:
        """The 204's headers for a preflight: empty when the origin is not allowed."""
        origin = request_headers.get("Origin", "")
        if not self.allows(origin):
            return []
        headers = self._origin_headers(origin)
        method = request_headers.get("Access-Control-Request-Method", "")
        headers.append(("Access-Control-Allow-Methods", method))
        requested = request_headers.get("Access-Control-Request-Headers", "")
        if requested:
            headers.append(("Access-Control-Allow-Headers", requested))
        return headers

    def actual(self, request_headers: Mapping[str, str]) -> Headers:
        """Headers added to a function's response to a cross-origin request."""
        origin = request_headers.get("Origin", "")
        return self._origin_headers(origin) if origin and self.allows(origin) else []


def is_preflight(method: str, request_headers: Mapping[str, str]) -> bool:
    return (
        method.upper() == "OPTIONS"
        and "Origin" in request_headers
        and "Access-Control-Request-Method" in request_headers
    )
