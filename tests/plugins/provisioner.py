"""The function app under test: the local queue host running function_app.py against Azurite
and the ARM emulator, with queue and table names of its own for every test."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator, Call
from localazure.azurite import Azurite
from localazure.calls import call_json
from localazure.entra import EntraStandIn, Principal, app_principal
from localazure.host.process import LocalHost
from provisioning.contract import example_request

REPO_ROOT = Path(__file__).resolve().parents[2]
TERMINAL = frozenset({"succeeded", "failed"})
# The operator's backend: reads every request (what the tests poll the status route with).
OPERATOR = app_principal("provisioning-operator")


def sample_request(**overrides: Any) -> dict[str, Any]:
    """The contract's example request with a fresh request_id."""
    fresh = {
        "request_id": str(uuid.uuid4()),
        "subscription_id": DEFAULT_SUBSCRIPTION,
        "resource_group": f"rg-{uuid.uuid4().hex[:8]}",
    }
    return {**example_request(), **fresh, **overrides}


class Provisioner:
    """One test's app: its settings, its host, and what it sees of Azurite and the emulator."""

    def __init__(
        self,
        azurite: Azurite,
        arm: ArmEmulator,
        entra: EntraStandIn,
        settings: dict[str, str],
        start_host: Callable[..., LocalHost],
    ) -> None:
        self._start_host = start_host
        self.azurite = azurite
        self.arm = arm
        self.entra = entra
        suffix = uuid.uuid4().hex[:10]
        self.queue_name = f"prov-{suffix}"
        self.settings = {
            "AzureWebJobsStorage": azurite.connection_string,
            "PROVISIONING_QUEUE_NAME": self.queue_name,
            "STATUS_TABLE_NAME": f"status{suffix}",
            "POISON_ARCHIVE_TABLE_NAME": f"poison{suffix}",
            "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
            "CLUSTER_WATCH_DELAY_SECONDS": "1",
            "PROVIDER_REGISTRATION_DELAY_SECONDS": "1",
            "REQUESTER_TABLE_NAME": f"requesters{suffix}",
            **arm.env(),
            **entra.env(),
            **settings,
        }
        self.host: LocalHost | None = None
        self.queue = self._queue(self.queue_name)
        self.poison_queue = self._queue(f"{self.queue_name}-poison")
        self.queue.create_queue()

    def _queue(self, name: str) -> QueueClient:
        return QueueClient.from_connection_string(
            self.azurite.connection_string, name, message_encode_policy=TextBase64EncodePolicy()
        )

    def start(self, **host_options: Any) -> LocalHost:
        self.host = self._start_host(REPO_ROOT, self.settings, **host_options)
        return self.host

    def send(self, request: dict[str, Any] | str) -> None:
        """Enqueue as the SPA does: base64 of the UTF-8 JSON."""
        body = request if isinstance(request, str) else json.dumps(request)
        self.queue.send_message(body)

    def send_raw(self, text: str) -> None:
        """Enqueue text exactly as given, with no base64 (what a misbehaving sender does)."""
        QueueClient.from_connection_string(
            self.azurite.connection_string, self.queue_name
        ).send_message(text)

    def token(self, principal: Principal = OPERATOR, roles: tuple[str, ...] = ()) -> str:
        """A token from the tenant stand-in; the operator reads everything by default."""
        return self.entra.token(principal, roles=roles or ("Provisioning.ReadAll",))

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: dict[str, Any] | bytes | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One call to the app's HTTP routes: status, JSON body, headers."""
        assert self.host is not None
        return call_json(method, f"{self.host.http_url}{path}", token, body)

    def status(self, request_id: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
        code, body, _ = self.call("GET", f"/api/provisioning/{request_id}", token or self.token())
        return code, body

    def wait_for(
        self,
        request_id: str,
        done: Callable[[dict[str, Any]], bool] = lambda s: s["phase"] in TERMINAL,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        last = self.settle(request_id, done, timeout)
        if last is not None and done(last):
            return last
        output = self.host.output[-4000:] if self.host else ""
        raise AssertionError(f"request {request_id} did not get there: {last}\n{output}")

    def failed_with(
        self, request: dict[str, Any], code: str, fragment: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Send ``request``; its status once failed with ``code``, ``fragment`` in its message."""
        self.send(request)
        status = self.wait_for(request["request_id"], timeout=timeout)
        assert status["phase"] == "failed", status
        assert status["error"]["code"] == code, status
        assert fragment in status["error"]["message"], status
        return status

    def settle(
        self,
        request_id: str,
        done: Callable[[dict[str, Any]], bool] = lambda s: s["phase"] in TERMINAL,
        timeout: float = 60.0,
    ) -> dict[str, Any] | None:
        """The status once ``done`` holds, or the last one seen (None: never readable) at the
        timeout. Unlike ``wait_for`` it does not raise, so a run can count what did not end."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        token = self.token()
        while time.monotonic() < deadline:
            code, body = self.status(request_id, token)
            if code == 200:
                last = body
                if done(body):
                    return body
            time.sleep(0.2)
        return last

    def archive(self) -> list[dict[str, Any]]:
        service = TableServiceClient.from_connection_string(self.azurite.connection_string)
        table = service.get_table_client(self.settings["POISON_ARCHIVE_TABLE_NAME"])
        return [dict(row) for row in table.list_entities()]

    def wait_for_archive(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                rows = self.archive()
            except ResourceNotFoundError:  # the table is created by the app on its first message
                rows = []
            if len(rows) >= count:
                return rows
            time.sleep(0.2)
        raise AssertionError(f"expected {count} archived bodies, found {rows}")

    def arm_calls(self, resource_group: str) -> list[Call]:
        """The emulator's calls that concern one resource group, in order."""
        needle = f"/resourcegroups/{resource_group.lower()}"
        return [c for c in self.arm.calls if needle in c.path.lower()]


def start_with_a_live_request(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> tuple[Provisioner, dict[str, Any]]:
    """A running app with one request still checking its group (at its second check, 2 s apart)."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="2")
    app.start()
    arm.set_read_lag(reads=2)
    request = sample_request()
    app.send(request)
    app.wait_for(request["request_id"], lambda s: s["attempt"] >= 2)
    return app, request


def refused_for_its_subscription(app: Provisioner, arm: ArmEmulator) -> dict[str, Any]:
    """Start ``app``, send a request and check it fails SubscriptionNotAllowed with no ARM call."""
    app.start()
    request = sample_request()
    app.failed_with(request, "SubscriptionNotAllowed", "ALLOWED_SUBSCRIPTIONS")
    assert not arm.calls
    return request


def summary(calls: list[Call]) -> list[str]:
    """'METHOD kind status' lines: rg for the group, aks for the cluster, op for operations."""
    lines = []
    for call in calls:
        path = call.path.lower()
        kind = "aks" if "/managedclusters/" in path else "rg"
        lines.append(f"{call.method} {kind} {call.status}")
    return lines


@pytest.fixture
def provisioner_factory(
    azurite: Azurite,
    arm: ArmEmulator,
    entra: EntraStandIn,
    start_local_host: Callable[..., LocalHost],
) -> Callable[..., Provisioner]:
    """``provisioner_factory(SETTING="value", ...)``: an app not yet started (call ``start()``)."""

    def make(storage: Azurite | None = None, **settings: str) -> Provisioner:
        return Provisioner(storage or azurite, arm, entra, settings, start_local_host)

    return make


@pytest.fixture
def provisioner(provisioner_factory: Callable[..., Provisioner]) -> Provisioner:
    """The app with default settings (and fast watch), already running."""
    app = provisioner_factory()
    app.start()
    return app


__all__ = ["Provisioner", "base64", "sample_request", "summary"]
