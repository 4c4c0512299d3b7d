"""ARM's pure helpers: Retry-After parsing, the token-safe URL check, and judging ARM errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import cast

import pytest
from azure.core.credentials import TokenCredential

from provisioning.arm import Arm, retry_after
from provisioning.errors import (
    ArmCallFailed,
    ErrorInfo,
    Handling,
    TerminalError,
    TransientError,
    classify,
)
from provisioning.settings import Settings


def arm(endpoint: str = "") -> Arm:
    """An Arm over ``endpoint``; the constructor makes no call, so any credential object does."""
    settings = Settings.from_env({"ARM_ENDPOINT": endpoint})
    return Arm(settings, cast(TokenCredential, object()))


# --- retry_after (azure-core's reading) ------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "17"}, 17.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"Retry-After": "4"}, 4.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "2000", "retry-after": "60"}, 60.0),
        ({"x-ms-retry-after-ms": "3000", "retry-after": "60"}, 60.0),
        ({"retry-after-ms": "1000", "x-ms-retry-after-ms": "9000"}, 1.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"content-type": "application/json"}, None),
    ],
)
def test_retry_after_reads_seconds_dates_and_milliseconds(
    headers: dict[str, str], expected: float | None
) -> None:
    """azure-core's order: Retry-After, then the millisecond headers; a past date is 0."""
    assert retry_after(headers) == expected


def test_retry_after_reads_an_http_date() -> None:
    """The HTTP-date form (RFC 9110) counts the seconds until that moment."""
    moment = datetime.now(UTC) + timedelta(seconds=120)
    seconds = retry_after({"retry-after": format_datetime(moment, usegmt=True)})
    assert seconds is not None
    assert 60 < seconds <= 121


@pytest.mark.parametrize("name", ["retry-after-ms", "x-ms-retry-after-ms"])
def test_malformed_millisecond_header_is_ignored(name: str) -> None:
    """A malformed millisecond header gives None, like a malformed Retry-After."""
    assert retry_after({name: "soon"}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "inf"},
        {"retry-after": "nan"},
        {"retry-after": "Infinity"},
        {"retry-after-ms": "inf"},
        {"retry-after": "1e400"},
    ],
)
def test_non_finite_retry_after_is_ignored(headers: dict[str, str]) -> None:
    """Only a finite number of seconds is a usable Retry-After."""
    value = retry_after(headers)
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


# --- ArmCallFailed.as_error and classify ----------------------------------------------------


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_throttling_timeouts_and_server_errors_are_transient(status: int | None) -> None:
    """No status (dropped connection), 408, 429 and 5xx are retried later."""
    error = ArmCallFailed(status, ErrorInfo("Whatever", "m"), 12.0).as_error()
    assert isinstance(error, TransientError)
    assert error.retry_after == 12.0
    assert error.info.code == "Whatever"


@pytest.mark.parametrize("status", [501, 505, 507, 511])
def test_every_5xx_is_transient(status: int) -> None:
    """Every 5xx status is transient, not only the common four."""
    assert isinstance(ArmCallFailed(status, ErrorInfo("X", "m")).as_error(), TransientError)


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
    assert isinstance(ArmCallFailed(status, ErrorInfo(code, "m")).as_error(), TransientError)


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
    error = ArmCallFailed(status, info).as_error()
    assert isinstance(error, TerminalError)
    assert not isinstance(error, TransientError)
    assert error.info == info


def test_arm_call_failed_exposes_the_code() -> None:
    """``code`` is ARM's error code, for callers that handle some codes themselves."""
    assert ArmCallFailed(404, ErrorInfo("ResourceNotFound", "m")).code == "ResourceNotFound"


@pytest.mark.parametrize(
    ("code", "status", "handling"),
    [
        ("ResourceGroupNotFound", 404, Handling.BACK_TO_VISIBILITY),
        ("ResourceGroupNotFound", None, Handling.BACK_TO_VISIBILITY),
        ("MissingSubscriptionRegistration", 409, Handling.REGISTER_PROVIDER),
        ("ResourceGroupBeingDeleted", 409, Handling.GROUP_BEING_DELETED),
        ("OperationNotAllowed", 409, Handling.CLUSTER_BUSY),
        ("PreconditionFailed", 412, Handling.EXISTING_CLUSTER),
        ("AnotherOperationInProgress", 409, Handling.TRANSIENT),
        ("TooManyRequests", 400, Handling.TRANSIENT),
        ("Whatever", 429, Handling.TRANSIENT),
        ("Whatever", 503, Handling.TRANSIENT),
        ("ServiceRequestError", None, Handling.TRANSIENT),
        ("AuthorizationFailed", 403, Handling.TERMINAL),
        ("QuotaExceeded", 400, Handling.TERMINAL),
    ],
)
def test_classify_reads_the_code_first_then_the_status(
    code: str, status: int | None, handling: Handling
) -> None:
    """One classifier: a known ARM code decides; otherwise 412, then 408/429/5xx, then terminal."""
    assert classify(code, status) is handling
    assert ArmCallFailed(status, ErrorInfo(code, "m")).handling is handling
