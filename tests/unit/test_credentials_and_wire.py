"""One token per audience per process, and the contract's base64 decoding."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from provisioning.credentials import REFRESH_MARGIN_SECONDS, SharedTokenCredential
from provisioning.errors import InvalidRequest
from provisioning.messages import decode_wire


class CountingCredential:
    """A TokenCredential of our own that counts fetches per scope."""

    def __init__(self, lifetime: float = 3600) -> None:
        self.fetches: dict[tuple[str, ...], int] = {}
        self.lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.fetches[scopes] = self.fetches.get(scopes, 0) + 1
        time.sleep(0.01)  # widen the window in which concurrent callers could both fetch
        return AccessToken(f"token-{scopes[0]}", int(time.time() + self.lifetime))


def test_one_fetch_per_scope_however_many_callers() -> None:
    """Many clients and threads asking for the same scope share one token."""
    inner = CountingCredential()
    shared = SharedTokenCredential(inner)
    threads = [
        threading.Thread(target=shared.get_token, args=("https://management.azure.com/.default",))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.get_token("https://storage.azure.com/.default")
    assert inner.fetches == {
        ("https://management.azure.com/.default",): 1,
        ("https://storage.azure.com/.default",): 1,
    }


def test_token_near_expiry_is_fetched_again() -> None:
    """A token inside the refresh margin is replaced, not served."""
    inner = CountingCredential(lifetime=REFRESH_MARGIN_SECONDS - 1)
    shared = SharedTokenCredential(inner)
    shared.get_token("scope/.default")
    shared.get_token("scope/.default")
    assert inner.fetches[("scope/.default",)] == 2


def test_claims_challenge_bypasses_the_cache() -> None:
    """A CAE claims challenge always goes to the real credential."""
    inner = CountingCredential()
    shared = SharedTokenCredential(inner)
    shared.get_token("scope/.default")
    shared.get_token("scope/.default", claims='{"access_token":{}}')
    assert inner.fetches[("scope/.default",)] == 2


@pytest.mark.parametrize("text", ['{"a": 1}', "{}", '{"team": "élan-数据"}'])
def test_decode_wire_reads_base64_of_utf8(text: str) -> None:
    """The SPA's base64 of UTF-8 JSON decodes to the same bytes, whitespace around it ignored."""
    wire = b"  " + base64.b64encode(text.encode("utf-8")) + b"\n"
    assert decode_wire(wire) == text.encode("utf-8")


@pytest.mark.parametrize("wire", [b"{not base64}", b"abc", b"ab$d", "é".encode()])
def test_decode_wire_rejects_what_is_not_base64(wire: bytes) -> None:
    """Text that is not base64 is an InvalidRequest naming the whole message ($)."""
    with pytest.raises(InvalidRequest) as caught:
        decode_wire(wire)
    assert [p.field for p in caught.value.problems] == ["$"]
    assert caught.value.request_id is None
