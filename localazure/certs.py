"""A throwaway test CA and one loopback server certificate, shared by the ARM emulator and Azurite.

Production code trusts it only through ``REQUESTS_CA_BUNDLE``, exactly as it would trust a
corporate proxy's CA.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True, slots=True)
class TestCertificates:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_certificates(directory: Path) -> TestCertificates:
    """Write ca.pem, server.pem and server-key.pem (127.0.0.1, localhost) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost", "::1")
    paths = TestCertificates(
        ca_pem=directory / "ca.pem",
        cert_pem=directory / "server.pem",
        key_pem=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(paths.ca_pem))
    server.cert_chain_pems[0].write_to_path(str(paths.cert_pem))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(paths.cert_pem), append=True)
    server.private_key_pem.write_to_path(str(paths.key_pem))
    return paths
