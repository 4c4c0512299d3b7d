"""The loopback servers' plumbing: werkzeug's handler with Nagle off and a werkzeug server on a
background thread (the local host's HTTP, the SPA), and a keep-alive cheroot server (the ARM
emulator)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cheroot.wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class NoDelayHandler(WSGIRequestHandler):
    """werkzeug's handler with Nagle's algorithm off.

    werkzeug sends the status line and headers, then the body, as separate writes. With Nagle
    on, the body waits for the client's delayed ACK: 14 ms a call on loopback against 2.5 ms
    with it off (measured with http.client). Azure's front ends add no such wait, so neither
    do the stand-ins.
    """

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class QuietHandler(NoDelayHandler):
    """No access log line per request (the SPA's files, Entra's pages)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ThreadedServer:
    """A werkzeug server for ``app`` on a daemon thread: :meth:`start` binds, :meth:`stop` ends."""

    def __init__(
        self,
        app: Any,
        *,
        name: str,
        handler: type[WSGIRequestHandler] = NoDelayHandler,
        ssl_context: tuple[str, str] | None = None,
    ) -> None:
        self._app = app
        self._name = name
        self._handler = handler
        self._ssl_context = ssl_context  # (certificate, key) PEM paths: serve HTTPS
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on ``host:port`` (0: any free port); returns the bound port."""
        if self._server is None:
            self._server = make_server(
                host,
                port,
                self._app,
                threaded=True,
                request_handler=self._handler,
                ssl_context=self._ssl_context,
            )
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=self._name,
                daemon=True,
            )
            self._thread.start()
        return int(self._server.server_port)

    @property
    def port(self) -> int | None:
        return None if self._server is None else int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


# The WSGI environ key under which KeepAliveServer puts the request's socket, so a stand-in can
# drop a connection without an answer (fault injection).
SOCKET_KEY = "localazure.socket"


class _SocketGateway(cheroot.wsgi.Gateway_10):
    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # the stub says None
        environ: dict[str, Any] = super().get_environ()  # type: ignore[no-untyped-call]
        environ[SOCKET_KEY] = self.req.conn.socket
        return environ


class _QuietServer(cheroot.wsgi.Server):
    def error_log(self, *_args: Any, **_kwargs: Any) -> None:
        """A dropped connection (fault injection) is not an error worth a traceback."""


class KeepAliveServer:
    """A WSGI app served by cheroot in a thread: HTTP/1.1 with keep-alive (over TLS when given
    a certificate), as Azure's front ends answer. werkzeug's development server closes every
    connection, so each call paid a TCP and TLS handshake. cheroot turns Nagle off itself."""

    def __init__(
        self,
        host: str,
        port: int,
        app: Callable[..., Any],
        *,
        certificate: tuple[Path, Path] | None = None,
        threads: int = 32,
    ) -> None:
        self._server = _QuietServer((host, port), app, numthreads=threads)
        self._server.gateway = _SocketGateway
        if certificate is not None:
            self._server.ssl_adapter = BuiltinSSLAdapter(str(certificate[0]), str(certificate[1]))
        self._thread: threading.Thread | None = None

    def start(self) -> KeepAliveServer:
        self._server.prepare()
        self._thread = threading.Thread(
            target=self._server.serve, name="localazure-keepalive", daemon=True
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
