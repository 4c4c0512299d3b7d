"""The scripts' side: `python -m provisioning submit` and `redrive`, against the running app."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from localazure.arm import ArmEmulator
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
    assert "re-driven" in run.stdout, run.stdout + run.stderr
    status = app.wait_for(
        request["request_id"], lambda s: s["run"] == 2 and s["phase"] in ("succeeded", "failed")
    )
    assert status["phase"] == "succeeded", status
