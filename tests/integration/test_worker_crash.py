"""The app when its language worker dies mid-step (out of memory, a crash) but the host lives.

The host fails every in-flight invocation of the dead worker: the message comes back after the
visibility timeout, counts toward poison, and the next delivery carries on from the status
record. Killed right after AKS accepted the create, the request still ends with one create.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from localazure.arm import ArmEmulator, Call
from tests.plugins.provisioner import Provisioner, sample_request

AKS = "/providers/microsoft.containerservice/managedclusters/"


def test_worker_killed_after_the_create_was_accepted(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """Kill the worker as AKS answers the PUT: one create, the request succeeds, same host."""
    app = provisioner_factory()
    host = app.start()
    pid = host.pid
    killed = threading.Event()

    def kill(call: Call, peer_port: int, headers: Mapping[str, str]) -> None:
        if not killed.is_set():
            killed.set()
            host.kill_worker()

    # The kill loses the operation URL, so the next delivery watches the cluster itself: with the
    # default plan (one poll) the create finishes only because a cluster GET counts as a poll.
    arm.on_call(kill, method="PUT", path=AKS)
    request = sample_request()
    app.send(request)
    status = app.wait_for(request["request_id"], timeout=90)
    assert killed.is_set()
    assert status["phase"] == "succeeded", status
    puts = [c for c in app.arm_calls(request["resource_group"]) if c.method == "PUT"]
    creates = [c for c in puts if AKS in c.path.lower() and c.status == 201]
    assert len(creates) == 1
    assert host.running and host.pid == pid
    assert "Language Worker Process exited; 1 in-flight invocation(s) failed" in host.output
