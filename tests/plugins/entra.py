"""The Entra ID stand-in for tests: one HTTPS authority per session, counts reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localazure.certs import TestCertificates
from localazure.entra import EntraStandIn


@pytest.fixture(scope="session")
def entra_standin(test_certs: TestCertificates) -> Iterator[EntraStandIn]:
    """The session's emulated tenant, trusted through the session's test CA (as ARM is)."""
    with EntraStandIn(test_certs) as standin:
        yield standin


@pytest.fixture
def entra(entra_standin: EntraStandIn) -> EntraStandIn:
    """The stand-in with its request counts at zero."""
    entra_standin.app.reset_counts()
    return entra_standin
