"""Bad input, request-id conflicts, host poisonings and the status endpoint, end to end."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient

from localazure.arm import ArmEmulator
from tests.plugins.provisioner import Provisioner, sample_request, start_with_a_live_request
from tests.unit.factories import API_FIELDS

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_messages"
# A spread of the corpus: not JSON, wrong type, bad ids, look-alikes, forged attempt, tags, size.
CASES = sorted(CORPUS.glob("*.json"))[::9]


def _body(case: dict[str, object]) -> str:
    if "body_json" in case:
        return json.dumps(case["body_json"])
    if "body_text" in case:
        return str(case["body_text"])
    import base64

    return base64.b64decode(str(case["body_base64"])).decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_message_fails_once_with_no_arm_call(
    provisioner: Provisioner, arm: ArmEmulator, path: Path
) -> None:
    """Each bad message: one clear error, zero ARM calls, archived once, status when readable."""
    case = json.loads(path.read_text(encoding="utf-8"))
    if "wire_text" in case or "body_base64" in case:
        pytest.skip("raw-byte and non-base64 cases are covered by the host-poison tests")
    provisioner.send(_body(case))
    rows = provisioner.wait_for_archive(1)
    assert len(rows) == 1
    assert rows[0]["dequeue_count"] == 1  # rejected once: no retry storm
    assert not arm.calls
    if case["request_id_readable"]:
        request_id = rows[0]["PartitionKey"]
        code, status = provisioner.status(request_id)
        assert code == 200
        assert status["phase"] == "failed"
        assert status["error"]["code"] == "InvalidRequest"
        for field in case["expected_fields"]:
            assert field in status["error"]["message"]


def test_request_id_conflict_leaves_live_request_untouched(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """Same request_id, other payload: RequestIdConflict logged and archived, live run goes on."""
    app, request = start_with_a_live_request(provisioner_factory, arm)
    app.send({**request, "location": "northeurope"})
    rows = app.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == request["request_id"]
    status = app.wait_for(request["request_id"])
    assert status["phase"] == "succeeded"
    assert "RequestIdConflict" in (app.host.output if app.host else "")


def test_message_that_is_not_base64_is_rejected_once_and_archived(
    provisioner: Provisioner, arm: ArmEmulator
) -> None:
    """Text that is not base64: one invocation rejects it, the archive keeps it verbatim."""
    provisioner.send_raw("this is not base64 {")
    rows = provisioner.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == "_unreadable"
    assert rows[0]["reason"].startswith("InvalidRequest")
    assert rows[0]["dequeue_count"] == 1
    assert bytes(rows[0]["wire"]) == b"this is not base64 {"
    assert not arm.calls


def test_message_over_the_dequeue_limit_is_poisoned_unread(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """DequeueCount past maxDequeueCount: poisoned without invoking, request marked failed."""
    app = provisioner_factory()
    request = sample_request()
    app.send(request)
    raw = QueueClient.from_connection_string(app.azurite.connection_string, app.queue_name)
    for _ in range(6):  # what six crashed deliveries leave behind
        for message in raw.receive_messages(visibility_timeout=1, max_messages=1):
            raw.update_message(message.id, message.pop_receipt, visibility_timeout=0)
    app.start()
    rows = app.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == request["request_id"]
    status = app.wait_for(request["request_id"])
    assert status["phase"] == "failed"
    assert status["error"]["code"] == "PoisonMessage"
    assert not arm.calls


def test_status_endpoint_answers_404_and_400(provisioner: Provisioner) -> None:
    """An unknown id answers 404 and a malformed id 400, each with a JSON error."""
    code, body = provisioner.status(str(uuid.uuid4()))
    assert (code, body["error"]["code"]) == (404, "RequestNotFound")
    code, body = provisioner.status("not-a-uuid")
    assert (code, body["error"]["code"]) == (400, "InvalidRequestId")


def test_status_endpoint_shows_every_phase(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """ensuring_resource_group, then creating_cluster, then succeeded, with the SPA's fields."""
    app = provisioner_factory(RG_VISIBILITY_DELAY_SECONDS="2", CLUSTER_WATCH_DELAY_SECONDS="2")
    app.start()
    arm.set_read_lag(reads=1)
    arm.set_cluster_create(polls=1)
    request = sample_request()
    app.send(request)
    seen: list[str] = []

    def ended(status: dict[str, object]) -> bool:
        seen.append(str(status["phase"]))
        return seen[-1] in ("succeeded", "failed")

    status = app.wait_for(request["request_id"], ended)
    assert status["phase"] == "succeeded"
    assert [p for i, p in enumerate(seen) if i == 0 or seen[i - 1] != p] == [
        "ensuring_resource_group",
        "creating_cluster",
        "succeeded",
    ]
    assert set(status) >= set(API_FIELDS)
    assert status["max_attempts"] == 12


def _trigger(function: object) -> dict[str, Any]:
    trigger = function.get_trigger()  # type: ignore[attr-defined]
    assert trigger is not None
    representation: dict[str, Any] = trigger.get_dict_repr()
    return representation


def test_bindings_as_the_host_would_index_them() -> None:
    """Both queue triggers and the HTTP routes, with their queue names, connection and auth
    (anonymous at the Functions level: every call is authenticated in code, no function key)."""
    import function_app

    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    assert set(functions) == {
        "provision",
        "archive_poison",
        "provisioning_status",
        "submit_provisioning",
        "list_provisioning",
        "sweep_status",
    }
    timer = _trigger(functions["sweep_status"])
    assert (timer["type"], timer["schedule"]) == ("timerTrigger", "0 */5 * * * *")
    trigger, poison, http = (
        _trigger(functions[name]) for name in ("provision", "archive_poison", "provisioning_status")
    )
    assert (trigger["type"], trigger["queueName"], trigger["connection"]) == (
        "queueTrigger",
        "%PROVISIONING_QUEUE_NAME%",
        "AzureWebJobsStorage",
    )
    assert (poison["queueName"], poison["connection"]) == (
        "%PROVISIONING_QUEUE_NAME%-poison",
        "AzureWebJobsStorage",
    )
    assert http["route"] == "provisioning/{request_id}"
    assert [str(m.value) for m in http["methods"]] == ["GET"]
    routes = {
        name: _trigger(functions[name])
        for name in ("provisioning_status", "submit_provisioning", "list_provisioning")
    }
    assert {(r["route"], str(r["methods"][0].value)) for r in routes.values()} == {
        ("provisioning/{request_id}", "GET"),
        ("provisioning", "POST"),
        ("provisioning", "GET"),
    }
    assert {r["authLevel"] for r in routes.values()} == {func.AuthLevel.ANONYMOUS}
