"""The loopback servers answer without waiting on Nagle's algorithm."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

from localazure.serving import NoDelayHandler

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
