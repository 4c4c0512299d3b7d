"""The emulator's ``on_call`` hook and ``operation_not_allowed`` fault (used by the crash suite)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator, Call
from localazure.tokens import mint_token

GROUP_PATH = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourcegroups/rg-hook"


def _put_group(arm: ArmEmulator, sock: socket.socket) -> bytes:
    body = b'{"location": "westeurope"}'
    context = ssl.create_default_context(cafile=str(arm.ca_pem))
    with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        tls.sendall(
            f"PUT {GROUP_PATH}?api-version=2025-04-01 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {mint_token(arm.url)}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return answer


def test_hook_sees_the_answered_call_and_the_callers_port(arm: ArmEmulator) -> None:
    """The hook runs after the PUT took effect, before the answer, with the caller's port."""
    seen: list[tuple[Call, int, int]] = []

    def hook(call: Call, peer_port: int, headers: Mapping[str, str]) -> None:
        groups_logged = sum(1 for c in arm.calls if c.method == "PUT")
        seen.append((call, peer_port, groups_logged))

    arm.on_call(hook, method="PUT", path=r"/resourcegroups/[^/]+$")
    port = int(arm.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    local_port = sock.getsockname()[1]
    answer = _put_group(arm, sock)
    assert answer.startswith(b"HTTP/1.1 201")
    assert len(seen) == 1
    call, peer_port, logged = seen[0]
    assert (call.method, call.status) == ("PUT", 201)
    assert peer_port == local_port
    assert logged == 1  # already in the call log when the hook ran


def test_reset_removes_hooks(arm: ArmEmulator) -> None:
    """After reset() a hook no longer fires."""
    fired: list[Call] = []
    arm.on_call(lambda call, port, headers: fired.append(call))
    arm.reset()
    port = int(arm.url.rsplit(":", 1)[1])
    _put_group(arm, socket.create_connection(("127.0.0.1", port)))
    assert not fired


def test_operation_not_allowed_fault(arm: ArmEmulator) -> None:
    """The fault answers 409 OperationNotAllowed naming the cluster."""
    arm.add_fault("operation_not_allowed", method="PUT", path=r"/resourcegroups/")
    port = int(arm.url.rsplit(":", 1)[1])
    answer = _put_group(arm, socket.create_connection(("127.0.0.1", port)))
    assert answer.startswith(b"HTTP/1.1 409")
    assert b'"OperationNotAllowed"' in answer
    assert b"rg-hook" in answer
