"""ARM and storage faults end to end, each with its defined outcome (issue: hardening).

409 MissingSubscriptionRegistration is in test_provisioning.py (registration, then on).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from localazure.arm import ArmEmulator, Call
from localazure.arm.scenario import FaultKind
from localazure.azurite import Azurite
from localazure.tokens import mint_token
from tests.crash.tap import REFUSE, Refuse, SeenRequest, Tap
from tests.plugins.provisioner import Provisioner, sample_request
from tests.plugins.reliability import FigureLog, counted_outcome

AKS = "/managedclusters/"
GROUP = r"/resourcegroups/[^/]+$"


def _aks_puts(app: Provisioner, request: dict[str, Any]) -> list[Call]:
    return [
        c
        for c in app.arm_calls(request["resource_group"])
        if c.method == "PUT" and AKS in c.path.lower()
    ]


def _group_puts(app: Provisioner, request: dict[str, Any]) -> list[Call]:
    return [
        c
        for c in app.arm_calls(request["resource_group"])
        if c.method == "PUT" and AKS not in c.path.lower()
    ]


def _send_and_record(
    figures: FigureLog, scenario: str, app: Provisioner, faults: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send a fresh request and check it succeeds, its figures recorded first (see ``_record``)."""
    request = sample_request()
    app.send(request)
    status = _record(figures, scenario, app, request, faults, "succeeded")
    assert status["phase"] == "succeeded", status
    return request, status


def _faults_then_success(
    arm: ArmEmulator,
    figures: FigureLog,
    app: Provisioner,
    fault: tuple[FaultKind, str, int],
    scenario: str,
    retry_after: int = 1,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``fault`` = (kind, path, times): that many faults on the PUTs to ``path``, then a fresh
    request that must succeed (``_send_and_record``)."""
    kind, path, times = fault
    arm.add_fault(kind, method="PUT", path=path, times=times, retry_after=retry_after)
    return _send_and_record(figures, scenario, app, times)


def _record(
    figures: FigureLog,
    scenario: str,
    app: Provisioner,
    request: dict[str, Any],
    faults: int | Callable[[], int],
    expected: str,
    section: str = "ARM faults",
    timeout: float = 60,
) -> dict[str, Any]:
    """Wait for the request's end without failing, count its figures, record them; the status.

    Recording comes before the test's assertions, so a request that did not end is counted
    (lost, stranded) instead of never reaching the report.
    """
    status = app.settle(request["request_id"], timeout=timeout)
    archived = any(r["PartitionKey"] == request["request_id"] for r in _archive(app))
    creates = len([c for c in _aks_puts(app, request) if c.status == 201])
    counted = counted_outcome(status, archived=archived, creates=creates, expected=expected)
    outcome = (status or {}).get("phase", "no status")
    if (status or {}).get("error"):
        outcome += f" {status['error']['code']}"  # type: ignore[index]
    figures.record(
        section=section,
        scenario=scenario,
        requests=1,
        faults=faults if isinstance(faults, int) else faults(),
        messages=1,
        outcome=outcome,
        **counted,
    )
    assert status is not None, f"request {request['request_id']} never got a status"
    return status


def _archive(app: Provisioner) -> list[dict[str, Any]]:
    try:
        return app.archive()
    except ResourceNotFoundError:  # the app creates the table with its first poisoned body
        return []


def test_throttled_aks_create_waits_out_retry_after(
    provisioner: Provisioner, arm: ArmEmulator, figures: FigureLog
) -> None:
    """429 on the AKS PUT with Retry-After 8: no in-process wait, re-enqueued ≥ 8 s, one create."""
    scenario = "429 with Retry-After 8 s on the AKS PUT"
    fault: tuple[FaultKind, str, int] = ("throttle", AKS, 1)
    request, status = _faults_then_success(arm, figures, provisioner, fault, scenario, 8)
    puts = _aks_puts(provisioner, request)
    assert [c.status for c in puts] == [429, 201]
    assert puts[1].time - puts[0].time >= 7.5
    assert status["attempt"] == 1  # a transient error spends no visibility attempt


@pytest.mark.parametrize(("kind", "code"), [("server_error", 500), ("unavailable", 503)])
def test_server_error_burst_is_retried_then_goes_on(
    provisioner: Provisioner, arm: ArmEmulator, figures: FigureLog, kind: FaultKind, code: int
) -> None:
    """Five 500s (or 503s) on the group PUT: bounded retries, a re-enqueue, one group and create."""
    scenario = f"burst of five {code}s on the group PUT"
    request, _ = _faults_then_success(arm, figures, provisioner, (kind, GROUP, 5), scenario)
    statuses = [c.status for c in _group_puts(provisioner, request)]
    assert statuses == [code] * 5 + [201]
    assert len([c for c in _aks_puts(provisioner, request) if c.status == 201]) == 1
    output = provisioner.host.output if provisioner.host else ""
    assert "transient error" in output


@pytest.mark.parametrize(
    ("kind", "times", "scenario", "statuses"),
    [
        pytest.param(
            "drop",
            3,
            "three dropped connections on the AKS PUT",
            [0, 0, 0, 201],
            id="dropped-connections",
        ),
        pytest.param(
            "operation_not_allowed",
            1,
            "409 OperationNotAllowed, no cluster of ours",
            [409, 201],
            id="operation-not-allowed-not-ours",
        ),
    ],
)
def test_transient_aks_put_failures_are_retried_to_one_create(
    provisioner: Provisioner,
    arm: ArmEmulator,
    figures: FigureLog,
    kind: FaultKind,
    times: int,
    scenario: str,
    statuses: list[int],
) -> None:
    """The AKS PUT's connection drops three times, or answers 409 OperationNotAllowed with no
    cluster of ours behind it: transient, retried later, then exactly one create."""
    request, _ = _faults_then_success(arm, figures, provisioner, (kind, AKS, times), scenario)
    assert [c.status for c in _aks_puts(provisioner, request)] == statuses


@pytest.mark.parametrize(
    ("kind", "target", "code", "action"),
    [
        ("unauthorized", GROUP, "InvalidAuthenticationToken", None),
        (
            "forbidden",
            AKS,
            "AuthorizationFailed",
            "Microsoft.ContainerService/managedClusters/write",
        ),
        # ARM's deny names the policies, not an action or scope (asserted below).
        ("policy", GROUP, "RequestDisallowedByPolicy", None),
    ],
)
def test_auth_failures_are_terminal_with_arm_code_action_and_scope(
    provisioner: Provisioner,
    arm: ArmEmulator,
    figures: FigureLog,
    kind: str,
    target: str,
    code: str,
    action: str | None,
) -> None:
    """401/403: failed at once with ARM's code, the denied action and scope (or, for a policy
    denial, the policy identifiers), and archived."""
    arm.add_fault(kind, method="PUT", path=target, times=None)  # type: ignore[arg-type]
    request = sample_request()
    provisioner.send(request)
    status = _record(
        figures,
        f"{kind} ({code}) on a PUT",
        provisioner,
        request,
        lambda: len([c for c in arm.calls if c.status in (401, 403)]),
        "failed",
    )
    assert status["phase"] == "failed", status
    error = status["error"]
    assert error["code"] == code
    assert error["correlation_id"]
    denied = [c for c in arm.calls if c.status in (401, 403)]
    assert len(denied) == 1  # terminal: not retried, in process or by the queue
    if action is not None:
        assert error["action"] == action
        assert error["scope"].lower() == denied[0].path.lower()
    if code == "RequestDisallowedByPolicy":
        assert "action" not in error and "scope" not in error
        (policy,) = error["details"]
        assert "policyAssignments/" in policy and "policyDefinitions/" in policy, policy
    if target == GROUP:
        assert not _aks_puts(provisioner, request)
    rows = provisioner.wait_for_archive(1)
    assert rows[0]["reason"].startswith(code)


def test_operation_not_allowed_while_our_cluster_is_creating_is_watched(
    provisioner: Provisioner, arm: ArmEmulator, figures: FigureLog
) -> None:
    """409 OperationNotAllowed while our own create runs: watched to success, no second create."""
    request = sample_request()
    tags = {"managed-by": "aks-provisioner", "request_id": request["request_id"]}
    arm.add_group(request["resource_group"], location="westeurope", tags=tags)
    arm.set_cluster_create(polls=0, seconds=3)
    cluster_url = (
        f"{arm.url}/subscriptions/{request['subscription_id']}/resourceGroups/"
        f"{request['resource_group']}/providers/Microsoft.ContainerService/managedClusters/"
        f"{request['cluster']['name']}?api-version=2026-08-01"
    )
    created = requests.put(  # an earlier delivery of ours started this create
        cluster_url,
        json={
            "location": "westeurope",
            "tags": tags,
            "properties": {
                "dnsPrefix": "aks-elb",
                # AKS refuses a cluster without a system pool (MustDefineAtLeastOneSystemPool).
                "agentPoolProfiles": [
                    {"name": "system", "mode": "System", "count": 3, "vmSize": "Standard_D4s_v5"}
                ],
            },
        },
        headers={"Authorization": f"Bearer {mint_token(arm.url)}"},
        verify=str(arm.ca_pem),
        timeout=10,
    )
    assert created.status_code == 201
    arm.add_fault("operation_not_allowed", method="PUT", path=AKS, times=1)
    provisioner.send(request)
    scenario = "409 OperationNotAllowed while our create runs"
    status = _record(figures, scenario, provisioner, request, 1, "succeeded")
    assert status["phase"] == "succeeded", status
    assert [c.status for c in _aks_puts(provisioner, request)] == [201, 409]


def test_storage_outage_during_the_reenqueue_is_recovered_from_the_record(
    provisioner_factory: Callable[..., Provisioner],
    azurite: Azurite,
    arm: ArmEmulator,
    figures: FigureLog,
) -> None:
    """The queue service drops every connection from the re-enqueue until it and its retries fail.

    The outage ends on a count, not a clock: the storage client's retry backoff is jittered
    (up to a few seconds), so a fixed-length window sometimes ended before the last retry.
    """
    sends = 1 + 2  # the send and the storage client's retry_total (2)
    window: dict[str, int] = {"sends_refused": 0, "refused": 0}

    def outage(seen: SeenRequest) -> Refuse | None:
        chain_send = seen.method == "POST" and seen.path.endswith("/messages")
        chain_send = chain_send and "-poison/" not in seen.path
        if chain_send and window["sends_refused"] < sends:
            window["sends_refused"] += 1
        elif not 0 < window["sends_refused"] < sends:
            return None  # before the outage, or after it
        window["refused"] += 1
        return REFUSE

    tap = Tap(azurite.port("queue"), outage)
    try:
        connection = azurite.connection_string.replace(
            f":{azurite.port('queue')}/", f":{tap.port}/"
        )
        app = provisioner_factory(
            AzureWebJobsStorage=connection,
            RG_VISIBILITY_DELAY_SECONDS="1",
            STORAGE_RETRY_SECONDS="2",  # the deferred message comes back in 2 s
        )
        app.start(receive_invisibility_seconds=5)
        arm.set_read_lag(reads=1)  # the first step ends with a re-enqueue
        request = sample_request()
        app.send(request)
        status = _record(
            figures,
            "storage outage during the re-enqueue (send and retries refused)",
            app,
            request,
            lambda: window["refused"],
            "succeeded",
            section="Storage faults",
        )
    finally:
        tap.close()
    assert status["phase"] == "succeeded", status
    assert window["sends_refused"] == sends  # the send and its bounded retries all failed
    assert len([c for c in _aks_puts(app, request) if c.status == 201]) == 1
    output = app.host.output if app.host else ""
    assert "storage unavailable" in output  # deferred, not retried every 5 s and poisoned
    assert "finished the step's hand-off" in output
    assert not app.archive()


def test_transient_budget_running_out_fails_with_the_last_code(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator, figures: FigureLog
) -> None:
    """Every group GET answers 503: past TRANSIENT_RETRIES (2) the request fails, archived."""
    app = provisioner_factory(TRANSIENT_RETRIES="2")
    app.start()
    arm.add_fault("unavailable", method="GET", path=GROUP, times=None, retry_after=1)
    request = sample_request()
    app.send(request)

    def gets_503() -> int:
        return len([c for c in app.arm_calls(request["resource_group"]) if c.status == 503])

    scenario = "transient budget (2) running out on 503s"
    status = _record(figures, scenario, app, request, gets_503, "failed", timeout=90)
    assert status["phase"] == "failed", status
    assert status["error"]["code"] == "ServiceUnavailable"
    assert "gave up after 2 transient errors" in status["error"]["message"]
    assert status["error"]["correlation_id"]
    gets = [c for c in app.arm_calls(request["resource_group"]) if c.method == "GET"]
    assert all(c.status == 503 for c in gets)
    assert not [c for c in app.arm_calls(request["resource_group"]) if c.method == "PUT"]
    rows = app.wait_for_archive(1)
    assert rows[0]["reason"].startswith("ServiceUnavailable")


def _timed_outage(seconds: float, starts: Callable[[SeenRequest], bool]) -> Callable[..., Any]:
    """A tap inspector: from the first request ``starts`` picks, refuse everything for a while."""
    window: dict[str, float] = {}

    def inspect(seen: SeenRequest) -> Refuse | None:
        now = time.monotonic()
        if "end" not in window and starts(seen):
            window["end"] = now + seconds
        if window.get("end", 0.0) > now:
            window["refused"] = window.get("refused", 0) + 1
            return REFUSE
        return None

    inspect.window = window  # type: ignore[attr-defined]
    return inspect


@pytest.mark.parametrize("service", ["table", "queue"])
def test_a_30_s_storage_outage_at_a_step_boundary_ends_as_without_it(
    provisioner_factory: Callable[..., Provisioner],
    azurite: Azurite,
    arm: ArmEmulator,
    figures: FigureLog,
    service: str,
) -> None:
    """Table (or queue) storage refuses every connection for 30 s from the first step's commit:
    the message is deferred with back-off (5, 10, 20 s here), not burnt in 25 s; one create."""
    request = sample_request()

    def first_commit(seen: SeenRequest) -> bool:
        if service == "table":
            return seen.method == "PUT" and request["request_id"] in seen.path
        return seen.method == "POST" and seen.path.endswith("/messages")  # the re-enqueue

    inspect = _timed_outage(30, first_commit)
    port = azurite.port(service)
    tap = Tap(port, inspect)
    try:
        connection = azurite.connection_string.replace(f":{port}/", f":{tap.port}/")
        app = provisioner_factory(
            AzureWebJobsStorage=connection,
            RG_VISIBILITY_DELAY_SECONDS="1",
            STORAGE_RETRY_SECONDS="5",
        )
        # Renewals every 15 s: a deferral uses the trigger's pop receipt, which a renewal
        # replaces (the real host renews at 5 minutes).
        app.start(receive_invisibility_seconds=30)
        arm.set_read_lag(reads=1)  # the first step ends with a commit and a re-enqueue
        app.send(request)
        status = _record(
            figures,
            f"30 s {service} storage outage from the first step's "
            + ("commit" if service == "table" else "re-enqueue"),
            app,
            request,
            lambda: int(inspect.window.get("refused", 0)),  # type: ignore[attr-defined]
            "succeeded",
            section="Storage faults",
            timeout=150,
        )
    finally:
        tap.close()
    assert "end" in inspect.window  # type: ignore[attr-defined]
    assert status["phase"] == "succeeded", status
    assert len([c for c in _aks_puts(app, request) if c.status == 201]) == 1
    assert not [r for r in _archive(app) if r["PartitionKey"] == request["request_id"]]
