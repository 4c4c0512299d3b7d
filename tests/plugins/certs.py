"""One throwaway CA per test session, trusted through REQUESTS_CA_BUNDLE by every SDK client."""

from __future__ import annotations

import pytest

from localazure.certs import TestCertificates, make_certificates


@pytest.fixture(scope="session")
def test_certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))
