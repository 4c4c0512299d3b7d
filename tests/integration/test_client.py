"""The scripts' side: `python -m provisioning submit` and `redrive`, against the running app."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from localazure.arm import ArmEmulator
from localazure.entra import user_principal
from tests.plugins.provisioner import Provisioner, sample_request


def _cli(app: Provisioner, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisioning", *args],
        input=stdin,
        env={"PATH": "", **app.settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_submit_validates_before_sending(provisioner: Provisioner) -> None:
    """An invalid request is refused by submit with every bad field named, and nothing is sent."""
    bad = sample_request(location="", cluster={"name": "-bad-", "node_count": 0})
    run = _cli(provisioner, "submit", "-", stdin=json.dumps(bad))
    assert run.returncode == 2
    for field in ("location", "cluster.name", "cluster.node_count"):
        assert field in run.stderr
    assert provisioner.queue.peek_messages(max_messages=1) == []


def test_submit_then_redrive_after_failure(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A request that failed (group never visible) is re-driven as run 2 and succeeds."""
    app = provisioner_factory(RG_VISIBILITY_ATTEMPTS="2", RG_VISIBILITY_DELAY_SECONDS="1")
    app.start()
    request = sample_request()
    arm.set_read_lag(reads=1000, group=request["resource_group"])
    run = _cli(app, "submit", "-", stdin=json.dumps(request))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == request["request_id"]
    failed = app.wait_for(request["request_id"])
    assert failed["error"]["code"] == "ResourceGroupNotFound"
    arm.set_read_lag(reads=0, group=request["resource_group"])
    run = _cli(app, "redrive", request["request_id"])
    assert run.returncode == 0, run.stderr
    # Sent, not run: the CLI cannot know whether the worker will accept it.
    assert run.stdout.strip() == (
        f"request {request['request_id']} sent for re-drive; "
        f"watch GET /api/provisioning/{request['request_id']}"
    ), run.stdout + run.stderr
    status = app.wait_for(
        request["request_id"], lambda s: s["run"] == 2 and s["phase"] in ("succeeded", "failed")
    )
    assert status["phase"] == "succeeded", status


def test_redrive_of_a_front_door_request_while_queue_messages_are_refused(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """With "$queue": false, Alice's failed POST is re-driven by `redrive`: the "$queue" rule
    judges only new requests, and run 2 is still hers (her in-flight slot, her tags)."""
    app = provisioner_factory(
        REQUEST_POLICY='{"$queue": false}',
        RG_VISIBILITY_ATTEMPTS="2",
        RG_VISIBILITY_DELAY_SECONDS="1",
    )
    app.start()
    alice = user_principal("alice@contoso.example")
    request = sample_request()
    arm.set_read_lag(reads=1000, group=request["resource_group"])
    token = app.entra.token(alice, roles=("Provisioning.Request",))
    code, body, _ = app.call("POST", "/api/provisioning", token, request)
    assert code == 202, body
    failed = app.wait_for(request["request_id"])
    assert failed["error"]["code"] == "ResourceGroupNotFound", failed
    arm.set_read_lag(reads=0, group=request["resource_group"])

    run = _cli(app, "redrive", request["request_id"])

    assert "sent for re-drive" in run.stdout, run.stdout + run.stderr
    status = app.wait_for(
        request["request_id"], lambda s: s["run"] == 2 and s["phase"] in ("succeeded", "failed")
    )
    assert status["phase"] == "succeeded", status
    assert status["requested_by"]["oid"] == alice.oid
    puts = [c for c in app.arm_calls(request["resource_group"]) if c.method == "PUT"]
    assert puts and all(c.body["tags"]["requested-by"] == alice.oid for c in puts)
