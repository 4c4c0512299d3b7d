"""``make demo ARGS=--browser``: the whole stack and the SPA, for a person to try by hand.

Starts what the browser test starts (localazure.spa_stack), prints the page's URL and the test
users' sign-in names and passwords (public test fixtures of the stand-in tenant, not secrets),
then serves until Ctrl-C.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

from localazure.entra.interactive import TEST_USERS
from localazure.spa_stack import spki_pin, start_spa_stack

PREFERRED_PORT = 5173  # Host.CORS in local.settings.sample.json allows http://localhost:5173


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def run_browser(stop: threading.Event) -> int:
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aks-spa-demo-")))
        print("starting Azurite, the ARM emulator, Entra's stand-in, the local host and the page …")
        port = PREFERRED_PORT if _free(PREFERRED_PORT) else 0
        started = start_spa_stack(stack, work, spa_port=port)
        print(f"\nOpen {started.spa.origin}/ and sign in as one of:")
        for user in TEST_USERS:
            print(f"  {user.username:28} password {user.password:22} roles {', '.join(user.roles)}")
        print(
            "\nThe sign-in page and Azurite are HTTPS with a throwaway test CA. Trust it for this "
            f"run, or start Chromium with\n  --ignore-certificate-errors-spki-list="
            f"{spki_pin(started.certs.cert_pem)}\n(the CA: {started.certs.ca_pem})"
        )
        print(f"\nAPI {started.host.http_url}   queue {started.queue_url}")
        print("Ctrl-C stops everything.", flush=True)
        while not stop.wait(0.5):
            if not started.host.running:
                print(started.host.output[-4000:])
                return 1
    return 0
