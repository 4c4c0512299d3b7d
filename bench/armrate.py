"""How many calls a second the ARM emulator answers, before and after keep-alive.

"Before" is the emulator as it was before it moved to cheroot (werkzeug's development server,
which answers every call with ``Connection: close``), taken from git; "after" is this tree.
Each runs in a process of its own (``python -m localazure.arm``) and gets the same load:
``clients`` threads, each with one ``requests`` session (which keeps connections alive when the
server lets it), GETting one resource group for ``seconds``.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import requests

from bench.run import REPO_ROOT, git
from localazure.arm import DEFAULT_SUBSCRIPTION
from localazure.arm.identity import fetch_arm_token

SERVER_FILE = "localazure/arm/server.py"


@dataclass(frozen=True)
class Rate:
    name: str
    calls: int
    seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def before_tree(work: Path) -> tuple[Path, str] | None:
    """The tree as of the last commit whose emulator used werkzeug (None without git)."""
    found = git("log", "-1", "--format=%h", "-S", "werkzeug.serving", "--", SERVER_FILE)
    change = found.decode().strip() if found is not None else ""
    archive = git("archive", f"{change}^", "localazure") if change else None
    if archive is None:
        return None
    tree = Path(tempfile.mkdtemp(prefix="arm-before-", dir=work))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree, f"{change}^"


def _serve(tree: Path, certs: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "localazure.arm", "--cert-dir", str(certs)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env: dict[str, str] = {}
    assert process.stdout is not None
    while len(env) < 4:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator exited before printing its environment")
        if line.startswith("export "):
            name, _, value = line[len("export ") :].strip().partition("=")
            env[name] = shlex.split(value)[0]
    return process, env


def measure(name: str, tree: Path, work: Path, *, clients: int = 16, seconds: float = 5.0) -> Rate:
    certs = Path(tempfile.mkdtemp(prefix="arm-rate-certs-", dir=work))
    process, env = _serve(tree, certs)
    try:
        url, ca = env["ARM_ENDPOINT"], env["REQUESTS_CA_BUNDLE"]
        token = fetch_arm_token(env)
        requests.post(
            f"{url}/_admin/scenario",
            json={"setter": "add_group", "args": {"name": "rate"}},
            verify=ca,
            timeout=10,
        ).raise_for_status()
        target = (
            f"{url}/subscriptions/{DEFAULT_SUBSCRIPTION}/resourcegroups/rate?api-version=2025-04-01"
        )
        counts = [0] * clients
        failures = [0] * clients
        stop = time.monotonic() + seconds

        def client(index: int) -> None:
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {token}"
                while time.monotonic() < stop:
                    try:
                        ok = session.get(target, verify=ca, timeout=10).status_code == 200
                    except requests.RequestException:
                        ok = False
                    counts[index] += ok
                    failures[index] += not ok

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return Rate(name, sum(counts), time.monotonic() - started, sum(failures))
    finally:
        process.terminate()
        process.wait(timeout=10)


def before_and_after(work: Path) -> list[Rate]:
    rates = []
    before = before_tree(work)
    if before is not None:
        tree, commit = before
        rates.append(measure(f"before: werkzeug, Connection: close ({commit})", tree, work))
    rates.append(measure("after: cheroot, keep-alive (this tree)", REPO_ROOT, work))
    return rates
