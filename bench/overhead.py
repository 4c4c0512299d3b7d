"""The function's own overhead per invocation, before and after the optimisation, and a profile.

Own overhead = an invocation's wall time minus the time inside its HTTP round trips (measured in
the host process by ``bench.hostwrap``). "Before" is the app as it was before commit
``OPTIMISATION_COMMIT`` (its parent's ``provisioning/runtime.py`` over today's other files), so
the two differ only by that change.
"""

from __future__ import annotations

import io
import pstats
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import run as bench_run
from bench.run import SCENARIOS, CellResult, Stack

# provisioning/runtime.py: build the runtime once even when the first batch starts together.
OPTIMISATION_COMMIT = "d7348cf"
APP_FILES = ("function_app.py", "host.json", "provisioning")


@dataclass
class Variant:
    name: str
    result: CellResult
    http_calls_per_request: float


def before_app(work: Path) -> Path | None:
    """A copy of the app with runtime.py as it was before the optimisation (None without git)."""
    try:
        old = subprocess.run(
            ["git", "show", f"{OPTIMISATION_COMMIT}^:provisioning/runtime.py"],
            cwd=bench_run.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    app = Path(tempfile.mkdtemp(prefix="app-before-", dir=work))
    for name in APP_FILES:
        source = bench_run.REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, app / name)
    (app / "provisioning" / "runtime.py").write_text(old, encoding="utf-8")
    return app


def measure(stack: Stack, n: int, app_dir: Path | None, name: str) -> Variant:
    """A burst of ``n`` requests into a cold host (visible group, 1 s watch, instant AKS)."""
    result, stats = bench_run.run_queue(
        stack,
        SCENARIOS["first"],
        n,
        timeout=120,
        extra_settings={"CLUSTER_WATCH_DELAY_SECONDS": "1"},
        app_dir=app_dir,
        aks_seconds=0.0,
    )
    provision = [i for i in stats["invocations"] if i["function"] == "provision"]
    calls = sum(i["http_calls"] for i in provision) / n
    return Variant(name, result, calls)


def profile(stack: Stack, n: int, out: Path) -> str:
    """cProfile of ``n`` requests run one invocation at a time (one pool thread), so that
    wall time in the profile is the invocation's own and not time waiting for the GIL."""
    result, _ = bench_run.run_queue(
        stack,
        SCENARIOS["first"],
        n,
        timeout=120,
        extra_settings={"CLUSTER_WATCH_DELAY_SECONDS": "1", "PYTHON_THREADPOOL_THREAD_COUNT": "1"},
        profile=out,
        aks_seconds=0.0,
    )
    stream = io.StringIO()
    stats = pstats.Stats(str(out), stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(15)
    return f"{result.n} requests, {result.invocations_per_request or 0:.0f} invocations each\n" + (
        stream.getvalue()
    )
