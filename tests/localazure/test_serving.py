"""The loopback servers answer without waiting on Nagle's algorithm."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.serving import make_server

from localazure.arm import ArmEmulator
from localazure.entra import EntraStandIn
from localazure.processes import StartStop
from localazure.serving import NoDelayHandler
from localazure.spa import SpaServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def _nodelay_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    sock = environ["werkzeug.socket"]
    flag = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    body = str(flag).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def test_accepted_connections_have_nagle_off() -> None:
    server = make_server(
        "127.0.0.1", 0, _nodelay_app, threaded=True, request_handler=NoDelayHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/", timeout=10) as r:
            assert int(r.read()) != 0
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("make", "read", "name"),
    [
        (ArmEmulator, lambda s: s.url, "the ARM emulator"),
        (ArmEmulator, lambda s: s.ca_pem, "the ARM emulator"),
        (EntraStandIn, lambda s: s.tenant, "the Entra stand-in"),
        (EntraStandIn, lambda s: s.ca_pem, "the Entra stand-in"),
        (SpaServer, lambda s: s.port, "the SPA server"),
    ],
)
def test_a_stand_in_not_started_says_so(
    make: Callable[[], StartStop], read: Callable[[Any], object], name: str
) -> None:
    """Before start() and after stop(), the addresses refuse with the stand-in's name."""
    standin = make()
    with pytest.raises(RuntimeError, match=f"^{name} is not running; call start"):
        read(standin)
    with standin:
        assert read(standin) is not None
    with pytest.raises(RuntimeError, match=f"^{name} is not running; call start"):
        read(standin)
