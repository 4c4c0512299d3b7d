"""The provisioning function end to end: local host, Azurite and the ARM emulator, real SDKs."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.azurite import ACCOUNT_NAME, Azurite
from localazure.host.process import LocalHostError
from provisioning.status import ROW_KEY
from tests.crash.tap import SeenRequest, Tap
from tests.plugins.provisioner import (
    Provisioner,
    refused_for_its_subscription,
    sample_request,
    summary,
)


def test_happy_path_is_one_invocation(provisioner_factory: Callable[..., Provisioner]) -> None:
    """GET 404, PUT, GET, create-only AKS PUT, all in the first invocation."""
    # A second visibility check would wait 120 s: a gap far shorter than that is one invocation.
    provisioner = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="120")
    provisioner.start()
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(
        request["request_id"], lambda s: s["phase"] != "ensuring_resource_group"
    )
    assert status["phase"] == "creating_cluster"
    assert status["attempt"] == 1
    calls = provisioner.arm_calls(request["resource_group"])
    assert summary(calls)[:4] == ["GET rg 404", "PUT rg 201", "GET rg 200", "PUT aks 201"]
    aks_put = calls[3]
    assert {k.lower(): v for k, v in aks_put.headers.items()}.get("if-none-match") == "*"
    # One invocation: no 120 s re-enqueue between the first GET and the AKS PUT.
    assert aks_put.time - calls[0].time < 60


def test_a_new_request_is_inserted_without_a_read_first(
    provisioner_factory: Callable[..., Provisioner], azurite: Azurite
) -> None:
    """The first table call for a new request is the insert; no GET comes before the commit."""
    seen: list[tuple[str, str]] = []

    def log(request: SeenRequest) -> None:
        seen.append((request.method, request.path))

    table_port = azurite.port("table")
    tap = Tap(table_port, log)
    try:
        app = provisioner_factory(
            AzureWebJobsStorage=azurite.connection_string.replace(
                f":{table_port}/", f":{tap.port}/"
            ),
            CLUSTER_WATCH_DELAY_SECONDS="30",
        )
        app.start()
        request = sample_request()
        app.send(request)
        table = TableClient.from_connection_string(
            azurite.connection_string, app.settings["STATUS_TABLE_NAME"]
        )
        deadline = time.monotonic() + 30
        phase = None
        while phase != "creating_cluster" and time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(ResourceNotFoundError):
                phase = table.get_entity(request["request_id"], ROW_KEY)["phase"]
    finally:
        tap.close()
    assert phase == "creating_cluster"
    table_path = f"/{ACCOUNT_NAME}/{app.settings['STATUS_TABLE_NAME']}"
    # The status table only (the requester table also lists the request, in another table).
    ours = [
        (m, "index" if "~due-" in unquote(path) else "record")
        for m, path in seen
        if path == table_path or path.startswith(f"{table_path}(")
    ]
    # The overdue index entry (the sweeper's, written first), the insert, the commit (If-Match).
    assert ours == [("PUT", "index"), ("POST", "record"), ("PUT", "record")], seen


def test_old_contract_three_checks_across_three_invocations(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A group hidden for two checks: three checks, ~5 s apart, one group PUT, then AKS."""
    app = provisioner_factory()
    app.start()
    arm.set_read_lag(reads=2)
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], lambda s: s["phase"] != "ensuring_resource_group")
    assert status["phase"] == "creating_cluster"
    calls = app.arm_calls(request["resource_group"])
    lines = summary(calls)
    assert lines[:6] == [
        "GET rg 404",
        "PUT rg 201",
        "GET rg 404",
        "GET rg 404",
        "GET rg 200",
        "PUT aks 201",
    ]
    assert lines.count("PUT rg 201") + lines.count("PUT rg 200") == 1
    gaps = [calls[3].time - calls[2].time, calls[4].time - calls[3].time]
    # At least the 5 s visibility delay (Azurite counts whole seconds); the upper bound only
    # says "not a much longer wait", loose for a loaded machine.
    assert all(4.5 <= gap <= 40 for gap in gaps), gaps
    assert status["attempt"] == 3


def test_existing_owned_group_is_not_put(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """A group that exists in Succeeded (and is ours) is visible at once: no PUT over it."""
    request = sample_request()
    arm.add_group(
        request["resource_group"], location="westeurope", tags={"managed-by": "aks-provisioner"}
    )
    provisioner.send(request)
    provisioner.wait_for(request["request_id"], lambda s: s["phase"] != "ensuring_resource_group")
    assert summary(provisioner.arm_calls(request["resource_group"]))[:2] == [
        "GET rg 200",
        "PUT aks 201",
    ]


def test_cluster_create_is_watched_to_success(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """A create that takes 3 polls ends succeeded after about 3 watch invocations."""
    arm.set_cluster_create(polls=3)
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(request["request_id"])
    assert status["phase"] == "succeeded", status
    assert status["cluster_id"].lower().endswith("/managedclusters/aks-elb")
    operation_polls = [c for c in arm.calls if "/operations/" in c.path.lower()]
    assert 3 <= len(operation_polls) <= 4


def test_twelve_hidden_checks_fail_and_are_archived(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """Twelve hidden checks: ResourceGroupNotFound, archived via the poison trigger, no AKS call."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="1")
    app.start()
    arm.set_read_lag(reads=1000)
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=90)
    assert status["phase"] == "failed"
    assert status["error"]["code"] == "ResourceGroupNotFound"
    assert status["attempt"] == 12
    lines = summary(app.arm_calls(request["resource_group"]))
    assert lines.count("GET rg 404") == 13  # the look before the PUT, then twelve checks
    assert not [line for line in lines if " aks " in line]
    rows = app.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == request["request_id"]
    assert rows[0]["reason"].startswith("ResourceGroupNotFound")


@pytest.mark.parametrize("fault", ["throttle", "unavailable"])
def test_transient_faults_requeue_without_spending_attempts(
    provisioner: Provisioner, arm: ArmEmulator, fault: str
) -> None:
    """429/503 with Retry-After re-enqueue after the delay, spend no visibility attempt."""
    arm.add_fault(fault, method="GET", path="/resourcegroups/", times=1, retry_after=6)  # type: ignore[arg-type]
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(
        request["request_id"], lambda s: s["phase"] != "ensuring_resource_group", timeout=40
    )
    assert status["phase"] == "creating_cluster"
    assert status["attempt"] == 1
    calls = provisioner.arm_calls(request["resource_group"])
    statuses = [c.status for c in calls]
    assert statuses[0] in (429, 503)
    # Retry-After (6 s) beats the 5 s back-off, and no invocation slept for it.
    assert calls[1].time - calls[0].time >= 5.5
    assert "transient error" in (provisioner.host.output if provisioner.host else "")


def test_unregistered_provider_is_registered_and_request_goes_on(
    provisioner: Provisioner, arm: ArmEmulator
) -> None:
    """409 MissingSubscriptionRegistration: one register POST, then the create goes through."""
    arm.set_unregistered(polls=0, seconds=1.5)
    request = sample_request()
    provisioner.send(request)
    status = provisioner.wait_for(request["request_id"], timeout=60)
    assert status["phase"] == "succeeded", status
    registers = [
        c for c in arm.calls if c.method == "POST" and c.path.lower().endswith("/register")
    ]
    assert len(registers) == 1


def test_same_message_twice_gives_one_create(provisioner: Provisioner, arm: ArmEmulator) -> None:
    """The same request sent twice: one effective create, no failure."""
    request = sample_request()
    provisioner.send(request)
    provisioner.send(request)
    status = provisioner.wait_for(request["request_id"])
    assert status["phase"] == "succeeded"
    created = [
        c
        for c in provisioner.arm_calls(request["resource_group"])
        if c.method == "PUT" and c.status == 201 and "/managedclusters/" in c.path.lower()
    ]
    assert len(created) == 1


def test_forked_chain_dies_at_its_next_step(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A copy of the visibility check's chain message (a fork) is dropped at its next step."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="3")
    arm.set_read_lag(reads=1)
    request = sample_request()
    request_id = request["request_id"]
    app.send(request)
    app.start()
    app.wait_for(request_id, lambda s: s["attempt"] == 2)
    # The first step found the group not yet visible and committed step 1: its chain message
    # (step 1, the second visibility check) is invisible for 3 s. Peek it once it shows, and
    # copy that one only (not a later watch message), so two deliveries hold the same baton.
    deadline = time.monotonic() + 30
    copied = False
    while not copied and time.monotonic() < deadline:
        for message in app.queue.peek_messages(max_messages=32):
            document = _chain_document(message.content)
            if document.get("request_id") == request_id and document.get("step") == 1:
                app.queue.send_message(json.dumps(document))
                copied = True
                break
        time.sleep(0.05)
    assert copied, "the visibility check's chain message never showed in the queue"
    status = app.wait_for(request_id)
    assert status["phase"] == "succeeded", status
    created = [
        c
        for c in app.arm_calls(request["resource_group"])
        if c.method == "PUT" and c.status == 201 and "/managedclusters/" in c.path.lower()
    ]
    assert len(created) == 1
    # The copy lost: either it came after the original's commit (stale), or both read step 1 and
    # the ETag refused the second write.
    assert app.host is not None
    dropped = [
        line
        for line in app.host.output.splitlines()
        if request_id in line
        and ("stale message dropped" in line or "advanced this request first" in line)
    ]
    assert dropped, app.host.output[-4000:]


def _chain_document(text: str) -> dict[str, Any]:
    """The JSON of a chain message as the function queued it (base64), or {} for anything else."""
    try:
        document = json.loads(base64.b64decode(text, validate=True))
    except ValueError:
        return {}
    return document if isinstance(document, dict) and "chain" in document else {}


def test_disallowed_subscription_fails_once_and_is_redriven_once_allowed(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """SubscriptionNotAllowed names the setting, makes no ARM call; once allowed, a resend runs."""
    app = provisioner_factory(ALLOWED_SUBSCRIPTIONS="11111111-1111-1111-1111-111111111111")
    request = refused_for_its_subscription(app, arm)
    assert app.host is not None
    app.host.stop()
    app.settings["ALLOWED_SUBSCRIPTIONS"] = DEFAULT_SUBSCRIPTION
    app.start()
    app.send(request)
    # Run 2 reads ensuring_resource_group until its first step commits: wait past it.
    status = app.wait_for(
        request["request_id"],
        lambda s: s["run"] == 2 and s["phase"] in ("creating_cluster", "succeeded", "failed"),
    )
    assert status["phase"] in ("creating_cluster", "succeeded")


def test_empty_allowed_subscriptions_logs_an_error_at_start_up(
    provisioner_factory: Callable[..., Provisioner],
) -> None:
    """With ALLOWED_SUBSCRIPTIONS empty the app starts, and says at once that nothing will run."""
    app = provisioner_factory(ALLOWED_SUBSCRIPTIONS="")
    host = app.start()
    deadline = time.monotonic() + 10
    while "ALLOWED_SUBSCRIPTIONS is empty" not in host.output and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "ERROR" in host.output
    assert "ALLOWED_SUBSCRIPTIONS is empty" in host.output


def test_malformed_setting_fails_start_up_naming_it(
    provisioner_factory: Callable[..., Provisioner],
) -> None:
    """A non-numeric count stops the app at start-up, and the error names the setting."""
    app = provisioner_factory(RG_VISIBILITY_ATTEMPTS="twelve")
    with pytest.raises(LocalHostError) as caught:
        app.start(startup_timeout=20)
    assert "RG_VISIBILITY_ATTEMPTS" in str(caught.value)
