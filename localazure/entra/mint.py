"""Entra ID v2.0 access tokens, signed RS256 with the tenant's current key.

The claim set follows Microsoft's access-token reference for ``ver: "2.0"``: ``aud`` is the API's
client id, ``iss`` is ``{authority host}/{tenant}/v2.0``, ``azp`` the calling client's app id,
``roles`` the app roles assigned to the caller, ``scp`` the delegated scopes (present only for a
user; an app-only token from client credentials has none), ``oid`` the caller's object id and
``tid`` the tenant. Tests that need a wrong token pass ``overrides`` (any claim, or ``None`` to
drop one) instead of building claims of their own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from localazure.entra.keys import SigningKeys

TENANT_ID = "3f2a9c41-6d1e-4b7a-9e55-0c8d2b7f1a63"
# The API's app registration ("aks-provisioner API") and the SPA's ("aks-provisioner SPA").
API_CLIENT_ID = "6b1c3e2a-8f4d-4c59-a7e0-2d9b5f13c8e4"
CLIENT_APP_ID = "0e7d4a91-2c6b-4f38-b1d5-9a8c3e6f2b70"
DEFAULT_LIFETIME = 3600  # Entra's access tokens live 60-90 minutes
USER_SCOPE = "access_as_user"


@dataclass(frozen=True, slots=True)
class Tenant:
    """One emulated directory: where it lives, its id and its signing keys."""

    authority_host: str
    tenant_id: str = TENANT_ID
    keys: SigningKeys = field(default_factory=SigningKeys)

    @property
    def issuer(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}/v2.0"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token is for: a signed-in user, or an app using client credentials."""

    kind: Literal["user", "app"]
    oid: str
    name: str
    preferred_username: str | None = None
    app_id: str | None = None  # an app's own client id (its azp in app-only tokens)


def user_principal(username: str, name: str | None = None, oid: str | None = None) -> Principal:
    """A user such as ``alice@contoso.example``; the oid is stable for a given username."""
    stable = oid or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"user.{username}"))
    return Principal(
        kind="user",
        oid=stable,
        name=name or username.partition("@")[0],
        preferred_username=username,
    )


def app_principal(display_name: str, app_id: str | None = None) -> Principal:
    """A daemon app (client credentials) with a stable service-principal oid and client id."""
    return Principal(
        kind="app",
        oid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"sp.{display_name}")),
        name=display_name,
        app_id=app_id or str(uuid.uuid5(uuid.NAMESPACE_DNS, f"app.{display_name}")),
    )


def access_token_claims(
    tenant: Tenant,
    principal: Principal,
    *,
    audience: str = API_CLIENT_ID,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (USER_SCOPE,),
    client_id: str = CLIENT_APP_ID,
    lifetime: int = DEFAULT_LIFETIME,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of a v2 access token for ``principal`` (see the module docstring)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": tenant.issuer,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "azpacr": "0",
        "oid": principal.oid,
        "tid": tenant.tenant_id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "2.0",
    }
    role_list = sorted(set(roles))
    if role_list:
        claims["roles"] = role_list
    if principal.kind == "user":
        claims |= {
            "azp": client_id,
            "name": principal.name,
            "preferred_username": principal.preferred_username,
            "scp": " ".join(scopes),
            # sub is pairwise (per app); derived so it differs from oid, as in Entra.
            "sub": str(uuid.uuid5(uuid.UUID(principal.oid), audience)),
        }
    else:
        claims |= {"azp": principal.app_id, "sub": principal.oid}
    return claims


def mint_access_token(
    tenant: Tenant,
    principal: Principal,
    *,
    overrides: Mapping[str, Any] | None = None,
    kid: str | None = None,
    **claim_options: Any,
) -> str:
    """A signed v2 access token (compact JWS) of :func:`access_token_claims` with
    ``claim_options`` (audience, roles, scopes, client_id, lifetime, now). ``overrides`` set or
    (with None) drop claims; ``kid`` names another key id in the header (the signature is still
    the current key's)."""
    claims = access_token_claims(tenant, principal, **claim_options)
    for name, value in (overrides or {}).items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    key = tenant.keys.current
    headers = {"typ": "JWT", "kid": kid or key.kid}
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
