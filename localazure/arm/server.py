"""``ArmEmulator``: the HTTPS ARM endpoint plus the plain-HTTP identity endpoint, in threads."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any

from localazure.arm.control import ScenarioControl
from localazure.arm.identity import IDENTITY_PATH, IdentityApp
from localazure.arm.routes import ArmApp
from localazure.arm.store import Store
from localazure.certs import TestCertificates, make_certificates
from localazure.processes import StartStop
from localazure.serving import KeepAliveServer


class ArmEmulator(ScenarioControl, StartStop):
    """An emulated Azure Resource Manager (resource groups, AKS, providers) on loopback.

    Scenario setters (``set_read_lag``, ``set_aks_lag``, ``add_group``, ``set_group_delete``,
    ``set_cluster_create``, ``set_unregistered``, ``add_fault``, ``set_retry_after``) and the
    ``calls``/``token_fetches`` views come from :class:`ScenarioControl`.
    """

    _display_name = "the ARM emulator"

    def __init__(
        self,
        certificates: TestCertificates | None = None,
        *,
        cert_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        identity_port: int = 0,
        identity_secret: str | None = None,
    ) -> None:
        store = Store()
        super().__init__(store)
        self._store = store
        self._certificates = certificates
        self._cert_dir = cert_dir
        self._host = host
        self._port = port
        self._identity_port = identity_port
        self._secret = identity_secret or secrets.token_hex(16)
        self._servers: list[KeepAliveServer] = []
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> ArmEmulator:
        if self._servers:
            return self
        certs = self._certificates
        if certs is None:
            directory = self._cert_dir
            if directory is None:
                self._tempdir = tempfile.TemporaryDirectory(prefix="localazure-arm-")
                directory = Path(self._tempdir.name)
            certs = make_certificates(directory)
            self._certificates = certs
        # The call log records every request, so neither server logs.
        arm = KeepAliveServer(
            self._host,
            self._port,
            ArmApp(self._store, self, lambda: self.url),
            certificate=(certs.cert_pem, certs.key_pem),
        )
        identity = KeepAliveServer(
            self._host, self._identity_port, IdentityApp(self._store, self._secret)
        )
        self._servers = [arm.start(), identity.start()]
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._certificates = None

    def reset(self) -> None:
        """Forget all groups, clusters, operations, scenarios, faults, calls and token counts."""
        self._store.reset()

    # -- addresses --------------------------------------------------------------------------

    def _server(self, index: int) -> KeepAliveServer:
        return self._started(self._servers or None)[index]

    @property
    def url(self) -> str:
        """The ARM endpoint, e.g. ``https://127.0.0.1:51234`` (also the token audience)."""
        return f"https://{self._host}:{self._server(0).port}"

    @property
    def ca_pem(self) -> Path:
        """The CA bundle that makes clients trust the emulator's certificate."""
        return self._started(self._certificates).ca_pem

    @property
    def identity_endpoint(self) -> str:
        """App Service's ``IDENTITY_ENDPOINT``: ``http://127.0.0.1:<port>/msi/token``."""
        return f"http://{self._host}:{self._server(1).port}{IDENTITY_PATH}"

    @property
    def identity_header(self) -> str:
        """App Service's ``IDENTITY_HEADER`` secret, checked against ``X-IDENTITY-HEADER``."""
        return self._secret

    def env(self) -> dict[str, str]:
        """Environment variables that point unmodified production code at the emulator."""
        return {
            "ARM_ENDPOINT": self.url,
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "identity_endpoint": self.identity_endpoint}
