"""The SPA's example client, run by Node against Azurite and the app: the encodings agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from localazure.arm import ArmEmulator
from tests.plugins.provisioner import Provisioner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spa" / "send-request.mjs"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_spa_example_request_is_provisioned(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """A request sent by @azure/storage-queue with a non-Latin-1 tag is decoded and succeeds."""
    app = provisioner_factory()
    host = app.start()
    run = subprocess.run(
        ["node", str(EXAMPLE)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "STORAGE_CONNECTION_STRING": app.azurite.connection_string,
            "QUEUE_NAME": app.queue_name,
            "API_BASE": host.http_url,
            "ACCESS_TOKEN": app.token(),
            "TIMEOUT_MS": "60000",
        },
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    final = json.loads(run.stdout.strip().splitlines()[-1])
    assert final["phase"] == "succeeded", final
    group = next(c for c in arm.calls if c.method == "PUT" and c.status == 201)
    assert group.body["tags"]["team"] == "élan-数据"
