"""One token per audience per process.

Every SDK client has its own authentication policy, and each policy asks the credential for a
token the first time it is used. This wrapper answers those asks from one cache, so a warm
instance fetches one token per audience until it nears expiry, however many clients it holds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential

# Refresh a little before expiry, as azure-core's own policies do.
REFRESH_MARGIN_SECONDS = 300


class SharedTokenCredential:
    """A TokenCredential that caches the wrapped credential's tokens per scope set."""

    def __init__(self, inner: TokenCredential) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], AccessToken] = {}

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        if claims or tenant_id:  # a challenge asks for a different token: never serve the cache
            return self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        key = tuple(sorted(scopes))
        with self._lock:  # one fetch even when several threads start at once
            token = self._tokens.get(key)
            if token is None or token.expires_on - REFRESH_MARGIN_SECONDS <= time.time():
                token = self._inner.get_token(*scopes, enable_cae=enable_cae, **kwargs)
                self._tokens[key] = token
            return token
