"""``make demo``: the whole story on this machine, in under a minute.

It starts Azurite, the ARM emulator, the Entra stand-in and the local host running
function_app.py, mints an Entra ID token for a demo user with the ``Provisioning.Request`` role,
submits a request to ``POST /api/provisioning`` with it, follows the ``Location`` it answers
until the request ends, and prints each phase as it happens and a summary of the ARM calls and
the time per phase. ``--scenario queue`` drops the request straight on the queue instead (the
mission's own interface, no identity: ``requested_by`` is ``queue``) and follows it with an
operator's ``Provisioning.ReadAll`` token. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator, Call
from localazure.azurite import Azurite
from localazure.calls import call_json
from localazure.certs import make_certificates
from localazure.entra import EntraStandIn, app_principal, user_principal
from localazure.host.process import LocalHost
from localazure.processes import REPO_ROOT
from provisioning.client import submit
from provisioning.contract import example_request
from provisioning.storage import StorageConnection


@dataclass(frozen=True, slots=True)
class Scenario:
    help: str
    hidden_reads: int = 0
    invalid: bool = False
    queue: bool = False


SCENARIOS = {
    "lagging": Scenario("the new group is hidden for 2 checks, then AKS creates (default)", 2),
    "visible": Scenario("the new group is visible on the first check", 0),
    "never": Scenario("the group never becomes visible: 12 checks, then failed", 10_000),
    "invalid": Scenario("an invalid request: refused with 400, every bad field named", 0, True),
    "queue": Scenario("straight onto the queue, no identity (requested_by: queue)", 2, queue=True),
}
DEMO_USER = user_principal("alice@contoso.example", name="Alice")
OPERATOR = app_principal("provisioning-operator")


def _request(scenario: Scenario) -> dict[str, Any]:
    request = example_request()
    request.update(request_id=str(uuid.uuid4()), location="West Europe")
    if scenario.invalid:
        request["resource_group"] = "rg-elb-clust\u0435r"  # Cyrillic U+0435: a look-alike
        request["cluster"]["node_count"] = 0
        request["attempt"] = 1
    return request


def _call(
    url: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One call to the front door with a bearer token: status, JSON body, headers."""
    return call_json("GET" if body is None else "POST", url, token, body)


def _status(url: str, token: str) -> dict[str, Any] | None:
    code, body, _ = _call(url, token)
    if code == 404:
        return None
    if code != 200:
        raise RuntimeError(f"GET {url} answered {code}: {body}")
    return body


def _say(started: float, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} +{time.monotonic() - started:5.1f}s] {text}", flush=True)


def _describe(status: dict[str, Any]) -> str:
    phase = status["phase"]
    if phase == "ensuring_resource_group":
        return f"{phase}, attempt {status['attempt']}/{status['max_attempts']}"
    if phase == "failed":
        error = status["error"] or {}
        return f"failed: {error.get('code')}: {error.get('message')}"
    if phase == "succeeded":
        return f"succeeded: {status['cluster_id']}"
    return str(phase)


def _call_line(call: Call, started_wall: float) -> str:
    path = str(call.path).split("?", 1)[0]
    return f"  +{call.time - started_wall:5.1f}s  {call.method:6} {call.status}  {path}"


@contextmanager
def _stack(work: Path, scenario: Scenario) -> Iterator[tuple[ArmEmulator, EntraStandIn, LocalHost]]:
    with ExitStack() as stack:
        certs = make_certificates(work / "certs")
        print("starting Azurite, the ARM emulator, Entra and the local host …", flush=True)
        azurite = stack.enter_context(Azurite())
        arm = stack.enter_context(ArmEmulator(certs))
        entra = stack.enter_context(EntraStandIn(certs))
        arm.set_read_lag(reads=scenario.hidden_reads)
        arm.set_cluster_create(polls=2)
        settings = {
            "AzureWebJobsStorage": azurite.connection_string,
            "PROVISIONING_QUEUE_NAME": "cluster-provisioning",
            "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
            "CLUSTER_WATCH_DELAY_SECONDS": "3",
            **arm.env(),
            **entra.env(),
        }
        # The deployment creates the queue (infra/); here the demo plays that part.
        StorageConnection.from_env(settings).queue("cluster-provisioning").create_queue()
        host = stack.enter_context(LocalHost(REPO_ROOT, settings=settings))
        host.start()
        yield arm, entra, host


def run(scenario_name: str, timeout: float) -> int:
    scenario = SCENARIOS[scenario_name]
    with ExitStack() as stack:
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="aks-provisioner-demo-"))
        arm, entra, host = stack.enter_context(_stack(Path(work), scenario))
        request = _request(scenario)
        print(f"scenario {scenario_name}: {scenario.help}")
        started, started_wall = time.monotonic(), time.time()
        if scenario.queue:
            request_id = submit(request, env={**host.settings})
            token = entra.token(OPERATOR, roles=["Provisioning.ReadAll"])
            location = f"/api/provisioning/{request_id}"
            _say(started, f"request {request_id} dropped on the queue (no identity)")
            _say(started, f"following it as the operator app ({OPERATOR.name}, ReadAll)")
        else:
            token = entra.token(DEMO_USER, roles=["Provisioning.Request"])
            _say(started, f"token minted for {DEMO_USER.preferred_username} (Provisioning.Request)")
            code, body, headers = _call(f"{host.http_url}/api/provisioning", token, request)
            if code != 202:
                _say(started, f"POST /api/provisioning answered {code}:")
                print(json.dumps(body, indent=2, ensure_ascii=False))
                return 0 if scenario.invalid and code == 400 else 1
            request_id, location = body["request_id"], headers["Location"]
            _say(
                started,
                f"202 Accepted: Location {location}, Retry-After {headers.get('Retry-After')} s",
            )
        phases: list[tuple[str, float]] = []
        last = ""
        status: dict[str, Any] | None = None
        while time.monotonic() - started < timeout:
            status = _status(f"{host.http_url}{location}", token)
            if status is not None:
                line = _describe(status)
                if line != last:
                    _say(started, line)
                    last = line
                    if not phases or phases[-1][0] != status["phase"]:
                        phases.append((status["phase"], time.monotonic()))
                if status["phase"] in ("succeeded", "failed"):
                    _say(started, f"requested_by: {json.dumps(status['requested_by'])}")
                    break
            time.sleep(0.25)
        _summary(arm, phases, started, started_wall)
        return 0 if status is not None and status["phase"] in ("succeeded", "failed") else 1


def _summary(
    arm: ArmEmulator, phases: list[tuple[str, float]], started: float, started_wall: float
) -> None:
    calls = [c for c in arm.calls if not c.path.startswith("/_admin")]
    print(f"\nARM calls, in order ({len(calls)}):")
    for call in calls:
        print(_call_line(call, started_wall))
    print("\ntime per phase:")
    for index, (phase, at) in enumerate(phases):
        end = phases[index + 1][1] if index + 1 < len(phases) else at
        took = f"{end - at:5.1f}s" if index + 1 < len(phases) else "  end"
        print(f"  {phase:24} {took}  (from +{at - started:.1f}s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo ARGS=…", description=__doc__)
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="lagging",
        help="; ".join(f"{name}: {s.help}" for name, s in SCENARIOS.items()),
    )
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--browser",
        action="store_true",
        help="start the stack and the SPA, print its URL and the test users, serve until Ctrl-C",
    )
    args = parser.parse_args(argv)
    # SIGTERM as well as Ctrl-C unwinds the context managers, which stop every child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.browser:
            from localazure.spa_demo import run_browser

            return run_browser(threading.Event())
        return run(args.scenario, args.timeout)
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
