"""``EntraStandIn``: the Entra app over HTTPS on loopback, in a thread, trusted by the test CA."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from localazure.certs import TestCertificates, make_certificates
from localazure.entra.app import EntraApp
from localazure.entra.keys import SigningKeys
from localazure.entra.mint import API_CLIENT_ID, TENANT_ID, Principal, Tenant, mint_access_token
from localazure.processes import StartStop
from localazure.serving import QuietHandler, ThreadedServer


class EntraStandIn(StartStop):
    """One tenant's authority (``https://127.0.0.1:<port>``): metadata, keys and tokens.

    ``token(principal, roles=...)`` mints a token the app accepts; ``env()`` gives the app's
    ``ENTRA_*`` settings. ``app`` is the WSGI app, to which other modules add routes before
    :meth:`start`.
    """

    _display_name = "the Entra stand-in"

    def __init__(
        self,
        certificates: TestCertificates | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tenant_id: str = TENANT_ID,
        audience: str = API_CLIENT_ID,
        keys: SigningKeys | None = None,
    ) -> None:
        self._certificates = certificates
        self._host = host
        self._port = port
        self.audience = audience
        self._keys = keys or SigningKeys()
        self._tenant_id = tenant_id
        self._server: ThreadedServer | None = None
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        # The authority host is known only once bound; the app is rebuilt then.
        self.app = EntraApp(Tenant("https://unbound", tenant_id, self._keys))

    def start(self) -> EntraStandIn:
        if self._server is not None:
            return self
        certs = self._certificates
        if certs is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="localazure-entra-")
            certs = self._certificates = make_certificates(Path(self._tempdir.name))
        server = ThreadedServer(
            self.app,
            name="localazure-entra",
            handler=QuietHandler,
            ssl_context=(str(certs.cert_pem), str(certs.key_pem)),
        )
        port = server.start(self._host, self._port)
        self.app.tenant = Tenant(f"https://{self._host}:{port}", self._tenant_id, self._keys)
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._certificates = None

    # -- what tests and the demo use ---------------------------------------------------------

    @property
    def tenant(self) -> Tenant:
        self._started(self._server)
        return self.app.tenant

    @property
    def keys(self) -> SigningKeys:
        return self._keys

    @property
    def authority_host(self) -> str:
        return self.tenant.authority_host

    @property
    def issuer(self) -> str:
        return self.tenant.issuer

    @property
    def ca_pem(self) -> Path:
        return self._started(self._certificates).ca_pem

    def token(self, principal: Principal, roles: Iterable[str] = (), **options: Any) -> str:
        """A token for this stand-in's API audience (see :func:`mint_access_token`)."""
        options.setdefault("audience", self.audience)
        return mint_access_token(self.tenant, principal, roles=roles, **options)

    def key_fetches(self) -> int:
        """How many times the JWKS was fetched (to show that validators cache it)."""
        return self.app.count("keys")

    def env(self) -> dict[str, str]:
        """The app's ``ENTRA_*`` settings for this tenant; both audience forms are accepted."""
        return {
            "ENTRA_TENANT_ID": self._tenant_id,
            "ENTRA_AUTHORITY_HOST": self.authority_host,
            "ENTRA_API_AUDIENCE": f"{self.audience},api://{self.audience}",
        }

    def describe(self) -> dict[str, Any]:
        return {"authority_host": self.authority_host, "tenant_id": self._tenant_id}
