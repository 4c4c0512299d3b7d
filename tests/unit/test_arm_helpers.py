"""ARM's pure helpers: Retry-After parsing, the token-safe URL check, and judging ARM errors."""

from __future__ import annotations

import math
from typing import cast

import pytest
from azure.core.credentials import TokenCredential

from provisioning.arm import Arm, _retry_after
from provisioning.errors import ArmCallFailed, ErrorInfo, TerminalError, TransientError
from provisioning.settings import Settings


def arm(endpoint: str = "") -> Arm:
    """An Arm over ``endpoint``; the constructor makes no call, so any credential object does."""
    settings = Settings.from_env({"ARM_ENDPOINT": endpoint})
    return Arm(settings, cast(TokenCredential, object()))


# --- _retry_after ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "17"}, 17.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "2000", "retry-after": "60"}, 2.0),
        ({"x-ms-retry-after-ms": "3000", "retry-after": "60"}, 3.0),
        ({"retry-after-ms": "1000", "x-ms-retry-after-ms": "9000"}, 1.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "soon"}, None),
        ({"content-type": "application/json"}, None),
    ],
)
def test_retry_after_reads_seconds_and_milliseconds(
    headers: dict[str, str], expected: float | None
) -> None:
    """Millisecond headers win over Retry-After; an HTTP-date or junk Retry-After is ignored."""
    assert _retry_after(headers) == expected


@pytest.mark.parametrize("name", ["retry-after-ms", "x-ms-retry-after-ms"])
def test_malformed_millisecond_header_is_ignored(name: str) -> None:
    """A malformed millisecond header gives None, like a malformed Retry-After."""
    assert _retry_after({name: "soon"}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "inf"},
        {"retry-after": "nan"},
        {"retry-after": "Infinity"},
        {"retry-after-ms": "inf"},
    ],
)
def test_non_finite_retry_after_is_ignored(headers: dict[str, str]) -> None:
    """Only a finite number of seconds is a usable Retry-After."""
    value = _retry_after(headers)
    assert value is None or math.isfinite(value)


# --- Arm.trusted_url ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/"
        "locations/westeurope/operations/1?api-version=2016-03-30",
        "https://MANAGEMENT.azure.com/op",
        "https://management.azure.com",
    ],
)
def test_operation_url_on_our_endpoint_is_trusted(url: str) -> None:
    """An https URL on the ARM host (any case) is returned unchanged."""
    assert arm().trusted_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "http://management.azure.com/op",
        "https://evil.example.com/op",
        "https://management.azure.com.evil.example.com/op",
        "https://management.azure.com@evil.example.com/op",
        "https://evil.example.com@management.azure.com/op",
        "https://evil.example.com/https://management.azure.com/op",
        "https://management.azure.com:8443/op",
        "//management.azure.com/op",
        "/subscriptions/s/op",
        "file:///etc/passwd",
    ],
)
def test_other_urls_never_get_a_token(url: str | None) -> None:
    """Anything not https on exactly the ARM host (user info, ports, look-alikes) is refused."""
    assert arm().trusted_url(url) is None


@pytest.mark.parametrize(
    ("endpoint", "url", "trusted"),
    [
        ("https://localhost:8443", "https://localhost:8443/op", True),
        ("https://localhost:8443", "https://localhost/op", False),
        ("https://management.usgovcloudapi.net", "https://management.azure.com/op", False),
        ("https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net/o", True),
    ],
)
def test_trusted_host_follows_arm_endpoint(endpoint: str, url: str, trusted: bool) -> None:
    """The trusted host is the configured ARM_ENDPOINT's host and port, not the public cloud."""
    assert (arm(endpoint).trusted_url(url) == url) is trusted


# --- ArmCallFailed.judged -------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_throttling_timeouts_and_server_errors_are_transient(status: int | None) -> None:
    """No status (dropped connection), 408, 429 and 5xx are retried later."""
    judged = ArmCallFailed(status, ErrorInfo("Whatever", "m"), 12.0).judged()
    assert isinstance(judged, TransientError)
    assert judged.retry_after == 12.0
    assert judged.info.code == "Whatever"


@pytest.mark.parametrize("status", [501, 505, 507, 511])
def test_every_5xx_is_transient(status: int) -> None:
    """Every 5xx status is judged transient, not only the common four."""
    assert isinstance(ArmCallFailed(status, ErrorInfo("X", "m")).judged(), TransientError)


@pytest.mark.parametrize(
    "code",
    [
        "AnotherOperationInProgress",
        "RetryableError",
        "TooManyRequests",
        "ServerTimeout",
        "MissingSubscriptionRegistration",
    ],
)
@pytest.mark.parametrize("status", [400, 409])
def test_transient_codes_are_transient_whatever_the_status(code: str, status: int) -> None:
    """ARM's retry-later codes are transient even on a 4xx status."""
    assert isinstance(ArmCallFailed(status, ErrorInfo(code, "m")).judged(), TransientError)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "InvalidParameter"),
        (403, "AuthorizationFailed"),
        (404, "ResourceGroupNotFound"),
        (409, "Conflict"),
        (400, "QuotaExceeded"),
        (412, "PreconditionFailed"),
    ],
)
def test_other_errors_are_terminal(status: int, code: str) -> None:
    """Any other status and code is terminal, keeping ARM's error info."""
    info = ErrorInfo(code, "m", correlation_id="corr")
    judged = ArmCallFailed(status, info).judged()
    assert isinstance(judged, TerminalError)
    assert not isinstance(judged, TransientError)
    assert judged.info == info


def test_arm_call_failed_exposes_the_code() -> None:
    """``code`` is ARM's error code, for callers that handle some codes themselves."""
    assert ArmCallFailed(404, ErrorInfo("ResourceNotFound", "m")).code == "ResourceNotFound"
