"""Bearer-token validation for the HTTP routes: Entra ID v2 access tokens, RS256 only.

PyJWT does the cryptography and the standard claim checks; this module decides which key, which
issuer, audiences and tenant, and turns every refusal into one ``Unauthorized`` whose reason
never quotes the token.

Keys come from the tenant's OpenID metadata (``jwks_uri``) and are cached in the process. An
unknown ``kid`` triggers a refresh, at most once per ``refresh_interval`` (5 minutes), so a
stream of forged ``kid``s cannot make the app fetch keys on every request; the set is also
refreshed once it is a day old, so a key Entra withdrew stops being accepted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from provisioning.identity import Caller, KeysUnavailable, Unauthorized, requester_from_claims
from provisioning.settings import Settings

ALGORITHM = "RS256"
LEEWAY_SECONDS = 60  # clock skew tolerated on exp/nbf
REFRESH_INTERVAL_SECONDS = 300.0
MAX_KEY_AGE_SECONDS = 24 * 3600.0
FAILED_RETRY_SECONDS = 10.0

# fetch(url) -> the JSON document at url; raises OSError (or a subclass) when it cannot.
Fetch = Callable[[str], dict[str, Any]]


def issuer_of(authority_host: str, tenant_id: str) -> str:
    return f"{authority_host.rstrip('/')}/{tenant_id}/v2.0"


def metadata_url(authority_host: str, tenant_id: str) -> str:
    # OpenID Connect discovery: the metadata lives under the issuer.
    return f"{issuer_of(authority_host, tenant_id)}/.well-known/openid-configuration"


class SigningKeys:
    """The tenant's published RS256 keys by ``kid``, fetched lazily and refreshed sparingly."""

    def __init__(
        self,
        metadata: str,
        fetch: Fetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_interval: float = REFRESH_INTERVAL_SECONDS,
        max_age: float = MAX_KEY_AGE_SECONDS,
    ) -> None:
        self._metadata = metadata
        self._fetch = fetch
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0
        self._problem = ""

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, or None when the tenant does not publish it.

        Raises ``KeysUnavailable`` while no key set could be read at all.
        """
        found = self._keys.get(kid)
        if found is not None and not self._stale():
            return found
        with self._lock:
            if self._due(known=kid in self._keys):
                self._refresh()
            if not self._keys:
                raise KeysUnavailable(
                    f"the tenant's signing keys could not be read: {self._problem}"
                )
            return self._keys.get(kid)

    def _stale(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._clock() - fetched >= self._max_age

    def _due(self, *, known: bool) -> bool:
        if self._fetched_at is None or self._stale():
            return True
        since = self._clock() - self._fetched_at
        if not self._keys:  # every read so far failed: try again soon, not on every request
            return since >= FAILED_RETRY_SECONDS
        # An unknown kid may be a key Entra just rolled in, or a forgery: look, but rarely.
        return not known and since >= self._refresh_interval

    def _refresh(self) -> None:
        self._fetched_at = self._clock()
        self.fetches += 1
        try:
            document = self._fetch(self._metadata)
            jwks = self._fetch(str(document["jwks_uri"]))
            keys = {
                str(jwk["kid"]): jwt.PyJWK(jwk, algorithm=ALGORITHM)
                for jwk in jwks["keys"]
                if jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig" and jwk.get("kid")
            }
        except (OSError, ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
            self._problem = str(exc)
            return  # keep serving with the keys we have, if any
        self._keys = keys


@dataclass(frozen=True, slots=True)
class TokenRules:
    issuer: str
    audiences: frozenset[str]
    tenant_id: str
    leeway: float = LEEWAY_SECONDS


class TokenValidator:
    """``validate(authorization header value)`` -> the verified ``Caller``, or ``Unauthorized``."""

    def __init__(self, rules: TokenRules, keys: SigningKeys) -> None:
        self._rules = rules
        self._keys = keys

    def validate(self, authorization: str | None) -> Caller:
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a well-formed JWT") from None
        algorithm = header.get("alg")
        if algorithm != ALGORITHM:
            # Refused before any key is looked at: "none" and HS* (key confusion) never verify.
            raise Unauthorized(f"tokens signed with {str(algorithm)[:10]!r} are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("the token names no signing key (kid)")
        key = self._keys.key(kid)
        if key is None:
            raise Unauthorized("the token is signed with a key the tenant does not publish")
        claims = self._decode(token, key)
        if claims.get("tid") != self._rules.tenant_id:
            raise Unauthorized("the token was issued for another tenant")
        if not claims.get("oid"):
            raise Unauthorized("the token has no oid claim")
        return Caller(requester_from_claims(claims), frozenset(_roles(claims)))

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        rules = self._rules
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=sorted(rules.audiences),
                issuer=rules.issuer,
                leeway=rules.leeway,
                options={"require": ["exp", "nbf", "iss", "aud", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet (nbf)") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token has another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the token lacks the {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("the token's signature does not verify") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is malformed") from None
        return claims


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("no bearer token (Authorization: Bearer <access token>)")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header is not 'Bearer <access token>'")
    return token.strip()


def _roles(claims: dict[str, Any]) -> Iterable[str]:
    roles = claims.get("roles")
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def https_fetch(timeout: float = 10.0) -> Fetch:
    """GET a JSON document over HTTPS with ``requests`` (which trusts ``REQUESTS_CA_BUNDLE``)."""
    import requests

    session = requests.Session()

    def fetch(url: str) -> dict[str, Any]:
        try:
            response = session.get(url, timeout=timeout)
            response.raise_for_status()
            document = response.json()
        except requests.RequestException as exc:
            raise OSError(f"GET {url} failed: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"GET {url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise ValueError(f"GET {url} did not answer a JSON object")
        return document

    return fetch


def token_validator(settings: Settings) -> TokenValidator | None:
    """The app's validator for its settings (None without ENTRA_TENANT_ID). Keys are fetched
    on the first call, with ``https_fetch``."""
    tenant = settings.entra_tenant_id
    if tenant is None:
        return None
    host = settings.entra_authority_host
    rules = TokenRules(
        issuer=issuer_of(host, tenant), audiences=settings.entra_api_audiences, tenant_id=tenant
    )
    return TokenValidator(rules, SigningKeys(metadata_url(host, tenant), https_fetch()))
