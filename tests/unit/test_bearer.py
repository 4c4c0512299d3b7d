"""Bearer-token validation with PyJWT against an in-memory tenant: every refusal, and the key cache.

The tenant's keys and tokens come from ``localazure.entra`` (pure: no server); the metadata and
JWKS are handed over by an in-memory fetch that counts its calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from localazure.entra import Tenant, app_principal, mint_access_token, user_principal
from provisioning.bearer import SigningKeys, TokenValidator
from provisioning.identity import KeysUnavailable, Unauthorized
from tests.fakes import Clock, MemoryDirectory, memory_validator

TENANT = Tenant("https://login.example.test")
AUDIENCE = "6b1c3e2a-8f4d-4c59-a7e0-2d9b5f13c8e4"
ALICE = user_principal("alice@contoso.example", name="Alice")
ROLES = ("Provisioning.Request",)


def validator(
    directory: MemoryDirectory, clock: Clock | None = None
) -> tuple[TokenValidator, SigningKeys]:
    return memory_validator(directory, AUDIENCE, clock or Clock())


def token(**options: Any) -> str:
    options.setdefault("audience", AUDIENCE)
    options.setdefault("roles", ROLES)
    return mint_access_token(TENANT, options.pop("principal", ALICE), **options)


def refusal(raw: str | None) -> str:
    check, _ = validator(MemoryDirectory(TENANT))
    with pytest.raises(Unauthorized) as caught:
        check.validate(None if raw is None else f"Bearer {raw}")
    reason = caught.value.reason
    if raw:
        for part in filter(None, raw.split(".")):
            assert part not in reason  # never echo the token or a piece of it
    return reason


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_user_token_gives_the_caller_and_roles() -> None:
    """A valid user token names the user (oid, tid, preferred_username) and their roles."""
    check, _ = validator(MemoryDirectory(TENANT))
    caller = check.validate(f"Bearer {token()}")
    assert caller.requester.kind == "user"
    assert caller.requester.oid == ALICE.oid
    assert caller.requester.tid == TENANT.tenant_id
    assert caller.requester.name == "alice@contoso.example"
    assert caller.roles == frozenset(ROLES)


def test_an_app_token_is_an_app_named_by_its_client_id() -> None:
    """Client credentials (no scp): kind app, named by azp."""
    daemon = app_principal("nightly")
    check, _ = validator(MemoryDirectory(TENANT))
    caller = check.validate(f"Bearer {token(principal=daemon, audience=f'api://{AUDIENCE}')}")
    assert (caller.requester.kind, caller.requester.name) == ("app", daemon.app_id)


def test_name_falls_back_to_the_name_claim() -> None:
    """Without preferred_username the user's name is the name claim."""
    check, _ = validator(MemoryDirectory(TENANT))
    caller = check.validate(f"Bearer {token(overrides={'preferred_username': None})}")
    assert caller.requester.name == "Alice"


@pytest.mark.parametrize(
    ("case", "build", "words"),
    [
        ("expired", lambda: token(now=time.time() - 7200), "expired"),
        ("not yet valid", lambda: token(overrides={"nbf": int(time.time()) + 3600}), "not valid"),
        ("wrong audience", lambda: token(audience="api://someone-else"), "audience"),
        (
            "wrong issuer",
            lambda: token(overrides={"iss": "https://evil.example/x/v2.0"}),
            "issuer",
        ),
        ("wrong tenant", lambda: token(overrides={"tid": "another-tenant"}), "tenant"),
        ("no tid", lambda: token(overrides={"tid": None}), "tid"),
        ("unknown kid", lambda: token(kid="not-a-published-key"), "key"),
    ],
)
def test_bad_claims_and_keys_are_refused(case: str, build: Any, words: str) -> None:
    """Each bad token is refused with a reason that says why and quotes none of it."""
    assert words in refusal(build())


def test_alg_none_is_refused() -> None:
    """An unsigned token (alg none) never verifies."""
    claims = jwt.decode(token(), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert "not accepted" in refusal(unsigned)


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The key-confusion attack: HMAC keyed with the tenant's public key."""
    claims = jwt.decode(token(), options={"verify_signature": False})
    public = TENANT.keys.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": TENANT.keys.current.kid}
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    forged = f"{signing_input.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert "not accepted" in refusal(forged)


def test_a_flipped_payload_byte_is_refused() -> None:
    """One changed character of the payload breaks the signature."""
    header, payload, signature = token().split(".")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    assert refusal(f"{header}.{flipped}.{signature}")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer not-a-jwt"])
def test_missing_or_malformed_authorization_is_refused(header: str | None) -> None:
    """No header, another scheme, or a non-JWT is refused (401)."""
    check, _ = validator(MemoryDirectory(TENANT))
    with pytest.raises(Unauthorized):
        check.validate(header)


def test_keys_are_fetched_once_for_many_tokens() -> None:
    """After the first call no validation makes a network call (metadata + JWKS once)."""
    directory = MemoryDirectory(TENANT)
    check, keys = validator(directory)
    for _ in range(50):
        check.validate(f"Bearer {token()}")
    assert len(directory.fetched) == 2
    assert keys.fetches == 1


def test_unknown_kids_refresh_the_keys_at_most_once_per_interval() -> None:
    """A stream of forged kids fetches the keys once per 5 minutes, not once per token."""
    directory, clock = MemoryDirectory(TENANT), Clock()
    check, keys = validator(directory, clock)
    check.validate(f"Bearer {token()}")
    for n in range(20):
        with pytest.raises(Unauthorized):
            check.validate(f"Bearer {token(kid=f'forged-{n}')}")
    assert keys.fetches == 1
    clock.now += 301
    with pytest.raises(Unauthorized):
        check.validate(f"Bearer {token(kid='forged-late')}")
    assert keys.fetches == 2


def test_a_rolled_in_key_is_picked_up_on_its_first_token() -> None:
    """After Entra rolls a new key in, its first token refreshes the cache and is accepted."""
    tenant = Tenant(TENANT.authority_host)
    directory, clock = MemoryDirectory(tenant), Clock()
    check, keys = validator(directory, clock)
    check.validate(f"Bearer {mint_access_token(tenant, ALICE, audience=AUDIENCE)}")
    tenant.keys.rotate()
    clock.now += 301
    caller = check.validate(f"Bearer {mint_access_token(tenant, ALICE, audience=AUDIENCE)}")
    assert caller.requester.oid == ALICE.oid
    assert keys.fetches == 2


def test_unreachable_tenant_is_keys_unavailable_and_not_hammered() -> None:
    """With no keys ever read, calls fail KeysUnavailable and retry at most every 10 s."""
    directory, clock = MemoryDirectory(TENANT), Clock()
    directory.down = True
    check, keys = validator(directory, clock)
    for _ in range(5):
        with pytest.raises(KeysUnavailable):
            check.validate(f"Bearer {token()}")
    assert keys.fetches == 1
    directory.down = False
    clock.now += 11
    assert check.validate(f"Bearer {token()}").requester.oid == ALICE.oid
