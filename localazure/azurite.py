"""Run the npm-installed Azurite (blob, queue, table) on free loopback ports with throwaway storage.

Azurite is started with port 0 for every service and reports the ports it bound, so there is no
race between picking a free port and binding it. Storage lives in a temporary ``--location`` that
is removed on :meth:`Azurite.stop`. Telemetry is disabled (Azurite would otherwise try to reach
the internet) and the API-version check is skipped because the pinned SDKs are newer than the
pinned Azurite.

The child runs in its own process group and, on Linux, gets SIGTERM when the Python process that
started it dies (``PR_SET_PDEATHSIG``), so an interrupted test session leaves no ``node`` behind;
an ``atexit`` hook stops anything still running on a normal interpreter exit.

Standalone: ``python -m localazure.azurite [--oauth]`` prints the connection string and serves
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from azure.storage.queue import CorsRule, QueueServiceClient

from localazure.certs import TestCertificates, make_certificates
from localazure.processes import REPO_ROOT, ChildProcess, die_with_parent

# What a browser needs to drop a message on a queue with a bearer token (the SPA's direct mode):
# the same rule infra/ sets on the account's queue service.
QUEUE_CORS_METHODS = ("POST",)
QUEUE_CORS_ALLOWED_HEADERS = ("authorization", "content-type", "x-ms-*")
QUEUE_CORS_EXPOSED_HEADERS = ("x-ms-*",)
QUEUE_CORS_MAX_AGE = 3600

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's well-known development account key (public, documented, not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
SERVICES = ("blob", "queue", "table")

AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"

_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at (https?)://([^:/\s]+):(\d+)"
)
_RUNNING: weakref.WeakSet[Azurite] = weakref.WeakSet()


class AzuriteError(RuntimeError):
    """Azurite is missing, did not start, or exited unexpectedly."""


@dataclass(eq=False, kw_only=True)  # eq=False: one object per process, hashable (weak sets)
class Azurite(ChildProcess):
    """One Azurite process serving blob, queue and table on loopback.

    ``oauth=True`` needs ``certs`` (see :func:`localazure.certs.make_certificates`); Azurite then
    serves HTTPS with ``--oauth basic`` and accepts bearer tokens whose issuer, audience
    (``https://storage.azure.com``) and expiry are right, as well as the shared key.
    """

    oauth: bool = False
    certs: TestCertificates | None = None
    host: str = "127.0.0.1"
    loose: bool = False
    skip_api_version_check: bool = True
    startup_timeout: float = 30.0
    azurite_bin: Path = AZURITE_BIN
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)
    _ports: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.oauth and self.certs is None:
            raise ValueError("oauth=True needs certs (Azurite's --oauth basic requires HTTPS)")

    # -- lifecycle -------------------------------------------------------------------------

    def command(self, location: Path) -> list[str]:
        """The Azurite command line for a storage ``location``."""
        cmd = [
            str(self.azurite_bin),
            "--location",
            str(location),
            "--disableTelemetry",
            "--blobHost",
            self.host,
            "--queueHost",
            self.host,
            "--tableHost",
            self.host,
            "--blobPort",
            "0",
            "--queuePort",
            "0",
            "--tablePort",
            "0",
        ]
        if self.skip_api_version_check:
            cmd.append("--skipApiVersionCheck")
        if self.loose:
            cmd.append("--loose")
        if self.oauth:
            assert self.certs is not None
            cmd += [
                "--oauth",
                "basic",
                "--cert",
                str(self.certs.cert_pem),
                "--key",
                str(self.certs.key_pem),
            ]
        return cmd

    def start(self) -> Azurite:
        """Start Azurite and return once all three services accept TCP connections."""
        with self._lock:
            if self._proc is not None:
                return self
            if not self.azurite_bin.exists():
                raise AzuriteError(
                    f"Azurite is not installed ({self.azurite_bin} is missing); run `make deps`"
                )
            self._workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
            location = self._workdir / "data"
            location.mkdir()
            log_path = self._workdir / "azurite.log"
            with log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    self.command(location),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self._workdir,
                    preexec_fn=die_with_parent,  # noqa: PLW1509 - only async-signal-safe calls
                )
            _RUNNING.add(self)
            try:
                self._wait_until_listening(log_path)
            except BaseException:
                self._stop_locked()
                raise
        return self

    def _wait_until_listening(self, log_path: Path) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        scheme = "https" if self.oauth else "http"
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            for service, seen_scheme, _host, port in _LISTENING.findall(text):
                if seen_scheme == scheme:
                    self._ports[service.lower()] = int(port)
            if len(self._ports) == len(SERVICES) and all(
                self._port_answers(p) for p in self._ports.values()
            ):
                return
            if self._proc.poll() is not None:
                raise AzuriteError(
                    f"Azurite exited with code {self._proc.returncode} during start-up:\n{text}"
                )
            time.sleep(0.05)
        raise AzuriteError(
            f"Azurite did not listen within {self.startup_timeout:.0f}s:\n"
            + log_path.read_text(errors="replace")
        )

    def _port_answers(self, port: int) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop Azurite (SIGTERM, then SIGKILL after 5 s) and delete its storage."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _RUNNING.discard(self)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            # Anything else left in the group (there should be nothing) goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self._ports = {}
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def log(self) -> str:
        """Azurite's console output so far (access log and start-up lines)."""
        if self._workdir is None:
            return ""
        path = self._workdir / "azurite.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- endpoints -------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.oauth else "http"

    def port(self, service: str) -> int:
        try:
            return self._ports[service]
        except KeyError:
            raise AzuriteError("Azurite is not running; call start() first") from None

    def _url(self, service: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port(service)}/{ACCOUNT_NAME}"

    @property
    def blob_url(self) -> str:
        return self._url("blob")

    @property
    def queue_url(self) -> str:
        return self._url("queue")

    @property
    def table_url(self) -> str:
        return self._url("table")

    @property
    def account_name(self) -> str:
        return ACCOUNT_NAME

    @property
    def account_key(self) -> str:
        return ACCOUNT_KEY

    @property
    def ca_bundle(self) -> Path | None:
        """The CA that signed Azurite's HTTPS certificate (OAuth mode), else None."""
        return self.certs.ca_pem if self.oauth and self.certs is not None else None

    def allow_queue_origins(self, origins: Sequence[str]) -> None:
        """Set the queue service's CORS rule for ``origins`` through Set Queue Service
        Properties, the API the deployment's Bicep rule ends up calling; Azurite honours it on
        preflights and responses. An empty list removes every rule."""
        verify: str | bool = str(self.ca_bundle) if self.ca_bundle else True
        service = QueueServiceClient.from_connection_string(
            self.connection_string, connection_verify=verify
        )
        rules = [
            CorsRule(
                list(origins),
                list(QUEUE_CORS_METHODS),
                allowed_headers=list(QUEUE_CORS_ALLOWED_HEADERS),
                exposed_headers=list(QUEUE_CORS_EXPOSED_HEADERS),
                max_age_in_seconds=QUEUE_CORS_MAX_AGE,
            )
        ]
        with service:
            service.set_service_properties(cors=rules if origins else [])

    @property
    def connection_string(self) -> str:
        """A shared-key connection string with explicit endpoints for all three services."""
        return (
            f"DefaultEndpointsProtocol={self.scheme};"
            f"AccountName={ACCOUNT_NAME};"
            f"AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_url};"
            f"QueueEndpoint={self.queue_url};"
            f"TableEndpoint={self.table_url};"
        )


@atexit.register
def _stop_all() -> None:
    for azurite in list(_RUNNING):
        azurite.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localazure.azurite",
        description="Run Azurite on free loopback ports and print its connection string.",
    )
    parser.add_argument(
        "--oauth",
        action="store_true",
        help="HTTPS with --oauth basic; a test CA is written to --certs-dir",
    )
    parser.add_argument(
        "--certs-dir",
        type=Path,
        default=Path(".localazure/certs"),
        help="where the test CA and server certificate go in --oauth mode",
    )
    args = parser.parse_args(argv)
    certs = make_certificates(args.certs_dir.resolve()) if args.oauth else None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Azurite(oauth=args.oauth, certs=certs) as azurite:
        print(f"AzureWebJobsStorage={azurite.connection_string}", flush=True)
        print(f"queue: {azurite.queue_url}", flush=True)
        print(f"table: {azurite.table_url}", flush=True)
        print(f"blob:  {azurite.blob_url}", flush=True)
        if azurite.ca_bundle is not None:
            print(f"REQUESTS_CA_BUNDLE={azurite.ca_bundle}", flush=True)
        print("Ctrl-C stops Azurite and deletes its storage.", flush=True)
        while not stop.wait(0.5):
            if not azurite.running:
                print(azurite.log(), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
