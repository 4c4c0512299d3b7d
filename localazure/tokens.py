"""JWT-shaped bearer tokens like Entra ID's, for the emulated managed-identity endpoint.

Azurite's ``--oauth basic`` mode checks the issuer, audience and expiry but not the signature,
so an unsigned-but-well-formed token is enough; the ARM emulator checks the same three claims.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ISSUER = f"https://sts.windows.net/{TENANT_ID}/"
PRINCIPAL_ID = "11111111-2222-3333-4444-555555555555"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_token(audience: str, lifetime_seconds: int = 3600, now: float | None = None) -> str:
    """A token for ``audience`` (no trailing ``/.default``) issued by the emulated tenant."""
    issued = int(now if now is not None else time.time())
    header = {"typ": "JWT", "alg": "RS256", "kid": "localazure"}
    claims = {
        "aud": audience,
        "iss": ISSUER,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "oid": PRINCIPAL_ID,
        "sub": PRINCIPAL_ID,
        "tid": TENANT_ID,
        "appid": PRINCIPAL_ID,
        "uti": uuid.uuid4().hex,
    }
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    return ".".join([_b64url(parts[0]), _b64url(parts[1]), _b64url(b"localazure-unsigned")])


def read_claims(token: str) -> dict[str, Any]:
    """The claims of a token made by :func:`mint_token`; raises ValueError when malformed."""
    try:
        _, payload, _ = token.split(".")
        claims = json.loads(_unb64url(payload))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("malformed token") from exc
    if not isinstance(claims, dict):
        raise ValueError("malformed token")
    return claims


def token_problem(token: str, audiences: set[str], now: float | None = None) -> str | None:
    """Why ``token`` must be refused for one of ``audiences``, or None when it is acceptable."""
    try:
        claims = read_claims(token)
    except ValueError:
        return "malformed token"
    if claims.get("iss") != ISSUER:
        return "wrong issuer"
    if str(claims.get("aud", "")).rstrip("/") not in {a.rstrip("/") for a in audiences}:
        return "wrong audience"
    if float(claims.get("exp", 0)) <= (now if now is not None else time.time()):
        return "expired"
    return None
