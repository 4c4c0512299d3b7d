"""Crash injection through local hosts: SIGKILL at every step boundary, then restart.

The fast slice (one request per kill point) runs by default; the long run is marked ``slow``
(``make crash``). The seed is printed; ``CRASH_SEED`` and ``CRASH_REQUESTS`` change the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localazure.arm import ArmEmulator
from localazure.azurite import Azurite
from tests.crash.driver import KILL_POINTS, CrashResult, CrashRun, figures_rows
from tests.plugins.reliability import FigureLog

FAST_SEED = 20261126
SLOW_SEED = 6
LOG_DIR = Path(__file__).resolve().parents[2] / ".localazure" / "crash"


def _check(result: CrashResult, label: str, figures: FigureLog) -> None:
    for row in figures_rows(result, label):
        figures.record(**row)
    print(
        f"{label}: seed={result.seed} kills={result.instances_kills} "
        f"restarts={result.restarts} {result.seconds:.1f}s"
    )
    for point, plans in result.by_point().items():
        print(
            f"  {point}: {len(plans)} requests, {sum(p.kills for p in plans)} kills, "
            f"{result.outcome(plans)}"
        )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for index, output in enumerate(result.outputs):
        (LOG_DIR / f"seed{result.seed}-host{index}.log").write_text(output, encoding="utf-8")
    assert not result.violations, "\n".join(result.violations[:40])
    assert result.lost(result.plans) == 0
    assert not result.duplicates


def test_fast_slice_one_request_per_kill_point(
    azurite: Azurite, arm: ArmEmulator, figures: FigureLog
) -> None:
    """Two hosts, one request per kill point: every request ends, no loss, no double create."""
    seed = int(os.environ.get("CRASH_SEED", str(FAST_SEED)))
    run = CrashRun(azurite, arm, seed=seed, requests=len(KILL_POINTS), hosts=2, window=8)
    result = run.run()
    _check(result, "fast slice", figures)
    fired = {p.point: p for p in result.plans}
    # Killed at every delivery: the host poisons the payload unread. It was accepted (the
    # record exists), so it is archived Stale and does not end the run; the sweeper re-arms it.
    repeated = fired["every_delivery"]
    assert repeated.kills >= 1
    assert (repeated.status or {}).get("phase") == "succeeded"
    assert result.archived([repeated]) == 1
    assert result.false_failures(result.plans) == 0
    assert sum(1 for p in result.plans if p.kills) >= len(KILL_POINTS) - 1


@pytest.mark.slow
def test_many_requests_at_every_kill_point(
    azurite: Azurite, arm: ArmEmulator, figures: FigureLog
) -> None:
    """Hundreds of requests over three hosts, killed at every boundary: the invariants hold."""
    seed = int(os.environ.get("CRASH_SEED", str(SLOW_SEED)))
    requests = int(os.environ.get("CRASH_REQUESTS", "240"))
    run = CrashRun(azurite, arm, seed=seed, requests=requests, hosts=3, window=12)
    result = run.run()
    _check(result, "long run", figures)
    assert sum(p.kills for p in result.plans) >= requests * 0.9
