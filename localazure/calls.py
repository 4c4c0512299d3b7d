"""One JSON call over HTTP with an optional bearer token: what the demo and the tests send."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.error import HTTPError


def call_json(
    method: str, url: str, token: str | None = None, body: dict[str, Any] | bytes | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of one call; an HTTP error is an answer, not an exception."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except HTTPError as error:
        text = error.read()
        # A function that failed (its storage down in an outage test) answers with no JSON.
        document = json.loads(text) if text.startswith(b"{") else {}
        return error.code, document, dict(error.headers)
