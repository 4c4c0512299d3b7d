"""ARM's pure helpers: Retry-After parsing and the token-safe URL check (the classifier of ARM
errors is tested in test_error_explanations.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import cast

import pytest
from azure.core.credentials import TokenCredential

from provisioning.arm import Arm, retry_after
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
