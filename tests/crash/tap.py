"""A TCP tap between one host process and one Azurite service (queue or table).

Each host process gets its own taps, so a tap always knows whose traffic it carries. The tap
reads every HTTP request (the storage SDKs send ``Content-Length`` bodies and never pipeline),
shows it to an ``inspect`` callback, and forwards it (or, for ``REFUSE``, drops the connection
as an outage would, or for an ``Answer``, replies with a storage error in the service's place).
When the callback returns an action, the
tap runs it as soon as the first byte of the answer comes back from Azurite (so the write is
done and stored) and drops the answer: the host never learns that its write succeeded. That is
a crash exactly after a storage write, with no test-only branch in the app.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

Action = Callable[[], None]


class Refuse:
    """An inspector's answer meaning: close the connection, forward nothing (an outage)."""


REFUSE = Refuse()


@dataclass(frozen=True, slots=True)
class Answer:
    """An inspector's answer meaning: reply with this storage error, forward nothing."""

    status: int
    code: str
    reason: str = "Injected by the test tap"

    def wire(self) -> bytes:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{self.code}</Code><Message>{self.reason}</Message></Error>"
        ).encode()
        head = (
            f"HTTP/1.1 {self.status} {self.reason}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-ms-error-code: {self.code}\r\n"
            "\r\n"
        )
        return head.encode("latin-1") + body


@dataclass(frozen=True, slots=True)
class SeenRequest:
    method: str
    path: str  # unquoted, without the query
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Inspector = Callable[[SeenRequest], Action | Refuse | Answer | None]


@dataclass(eq=False)
class _Link:
    client: socket.socket
    upstream: socket.socket
    armed: Action | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class Tap:
    """Listens on a free loopback port and forwards to ``upstream_port`` on loopback."""

    def __init__(self, upstream_port: int, inspect: Inspector) -> None:
        self._upstream_port = upstream_port
        self._inspect = inspect
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name=f"tap-{self.port}", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream_port), 10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links.add(link)
            threading.Thread(target=self._requests, args=(link,), daemon=True).start()
            threading.Thread(target=self._answers, args=(link,), daemon=True).start()

    def _forget(self, link: _Link) -> None:
        link.close()
        with self._lock:
            self._links.discard(link)

    def _requests(self, link: _Link) -> None:
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = link.client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in header_lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    # Not sent by the storage SDKs; pass the rest through unread.
                    link.upstream.sendall(head + b"\r\n\r\n" + buffer)
                    self._raw(link)
                    return
                length = int(headers.get("content-length") or 0)
                while len(buffer) < length:
                    chunk = link.client.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                method, target, _ = [*request_line.split(" ", 2), "", ""][:3]
                path, _, query = target.partition("?")
                seen = SeenRequest(method.upper(), unquote(path), query, headers, body)
                action = self._inspect(seen)
                if isinstance(action, Refuse):
                    return  # closes both sides: the client sees the connection drop
                if isinstance(action, Answer):
                    link.client.sendall(action.wire())  # the service never sees the request
                    continue
                if action is not None:
                    with link.lock:
                        link.armed = action
                link.upstream.sendall(head + b"\r\n\r\n" + body)
        except OSError:
            return
        finally:
            self._forget(link)

    def _raw(self, link: _Link) -> None:
        while True:
            chunk = link.client.recv(65536)
            if not chunk:
                return
            link.upstream.sendall(chunk)

    def _answers(self, link: _Link) -> None:
        try:
            while True:
                chunk = link.upstream.recv(65536)
                if not chunk:
                    return
                with link.lock:
                    action, link.armed = link.armed, None
                if action is not None:
                    action()  # the write is stored; the host dies before it hears so
                    return
                link.client.sendall(chunk)
        except OSError:
            return
        finally:
            self._forget(link)
