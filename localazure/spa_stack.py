"""The whole local stack behind the SPA, for the browser test and ``make demo ARGS=--browser``.

Azurite in OAuth mode (HTTPS, so browsers may send it bearer tokens), the ARM emulator, the
Entra stand-in with its interactive sign-in, the local host running function_app.py with CORS
for the page's origin, Azurite's queue CORS rule for the same origin, and the built page served
with its ``config.json``. One test CA signs every HTTPS certificate.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.queue import QueueClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.azurite import Azurite
from localazure.certs import TestCertificates, make_certificates
from localazure.entra import API_CLIENT_ID, CLIENT_APP_ID, EntraStandIn
from localazure.entra.app import metadata_document
from localazure.entra.interactive import STORAGE_SCOPE, InteractiveSignIn
from localazure.host.process import LocalHost
from localazure.processes import REPO_ROOT
from localazure.spa import SpaServer, build_spa

QUEUE_NAME = "cluster-provisioning"
API_SCOPE = f"api://{API_CLIENT_ID}/access_as_user"


@dataclass(frozen=True, slots=True)
class SpaStack:
    certs: TestCertificates
    azurite: Azurite
    arm: ArmEmulator
    entra: EntraStandIn
    sign_in: InteractiveSignIn
    spa: SpaServer
    host: LocalHost
    queue_name: str

    @property
    def queue_url(self) -> str:
        return f"{self.azurite.queue_url}/{self.queue_name}"

    def page_config(self) -> dict[str, Any]:
        """The page's config.json: MSAL's settings for this authority, the API, the queue."""
        tenant = self.entra.tenant
        return {
            "clientId": CLIENT_APP_ID,
            "authority": f"{tenant.authority_host}/{tenant.tenant_id}",
            "knownAuthorities": [tenant.authority_host.removeprefix("https://")],
            "authorityMetadata": metadata_document(tenant),
            "apiBase": self.host.http_url,
            "apiScope": API_SCOPE,
            "storageScope": STORAGE_SCOPE,
            "queueUrl": self.queue_url,
            "subscriptionId": DEFAULT_SUBSCRIPTION,
        }


def spki_pin(certificate_pem: Path) -> str:
    """Base64 SHA-256 of a certificate's SubjectPublicKeyInfo, the form Chromium's
    ``--ignore-certificate-errors-spki-list`` takes: trust for this one key, nothing else."""
    cert = x509.load_pem_x509_certificate(certificate_pem.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def start_spa_stack(
    stack: ExitStack,
    work: Path,
    *,
    spa_port: int = 0,
    http_port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> SpaStack:
    """Start everything on ``stack`` (stopped when it closes); the page is built if stale."""
    build_spa()
    certs = make_certificates(work / "certs")
    azurite = stack.enter_context(Azurite(oauth=True, certs=certs))
    arm = stack.enter_context(ArmEmulator(certs))
    arm.set_cluster_create(polls=1)
    entra = EntraStandIn(certs)
    sign_in = InteractiveSignIn().install(entra.app)
    stack.enter_context(entra)
    spa = stack.enter_context(SpaServer(port=spa_port))
    for uri in spa.redirect_uris:
        sign_in.register_redirect_uri(uri)
    app_settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PROVISIONING_QUEUE_NAME": QUEUE_NAME,
        "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
        "CLUSTER_WATCH_DELAY_SECONDS": "1",
        "PROVIDER_REGISTRATION_DELAY_SECONDS": "1",
        **arm.env(),
        **entra.env(),
        **(settings or {}),
    }
    # The deployment creates the queue and the CORS rule (infra/); here the stack does.
    QueueClient.from_connection_string(
        azurite.connection_string, QUEUE_NAME, connection_verify=str(certs.ca_pem)
    ).create_queue()
    azurite.allow_queue_origins([spa.origin])
    host = LocalHost(REPO_ROOT, settings=app_settings, http_port=http_port, cors=[spa.origin])
    stack.enter_context(host)
    started = SpaStack(certs, azurite, arm, entra, sign_in, spa, host, QUEUE_NAME)
    spa.config = started.page_config()
    return started
