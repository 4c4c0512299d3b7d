"""The tenant's token-signing keys: RSA 2048, each named by a ``kid``, published as a JWKS.

Entra publishes several keys at once and rolls them over; :meth:`SigningKeys.rotate` does the
same, so tests can show that a validator picks up a new key on an unknown ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = private.public_key().public_numbers()
        # Entra's kid is the certificate's thumbprint; a digest of the modulus plays that part.
        digest = hashlib.sha1(numbers.n.to_bytes(256, "big"), usedforsecurity=False).digest()
        return cls(kid=base64.urlsafe_b64encode(digest).rstrip(b"=").decode(), private_key=private)

    def jwk(self) -> dict[str, Any]:
        """The public half as Entra's JWKS lists it (``kty``, ``use``, ``kid``, ``n``, ``e``)."""
        public: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": public["n"], "e": public["e"]}


class SigningKeys:
    """The published keys; the first one signs new tokens. Thread-safe."""

    def __init__(self, keys: list[SigningKey] | None = None) -> None:
        self._keys = list(keys) if keys else [SigningKey.generate()]
        self._lock = threading.Lock()

    @property
    def current(self) -> SigningKey:
        with self._lock:
            return self._keys[0]

    def rotate(self, *, keep_old: bool = True) -> SigningKey:
        """Publish a new signing key (first), keeping or dropping the old ones; returns it."""
        fresh = SigningKey.generate()
        with self._lock:
            self._keys = [fresh, *self._keys] if keep_old else [fresh]
        return fresh

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.jwk() for key in self._keys]}
