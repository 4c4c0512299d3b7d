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
from tests.crash.outages import OutageRun, outage_rows
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
@pytest.mark.timeout(1800)
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


def _check_outages(run: OutageRun, result: CrashResult, label: str, figures: FigureLog) -> None:
    for row in outage_rows(run, result, label):
        figures.record(**row)
    print(f"{label}: seed={result.seed} refused={run.refused} {result.seconds:.1f}s")
    for plan in result.plans:
        print(f"  {plan.point} {run.seconds[plan.request_id]:.0f}s: {result.outcome([plan])}")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for index, output in enumerate(result.outputs):
        (LOG_DIR / f"{label.replace(' ', '-')}-host{index}.log").write_text(output, "utf-8")
    assert not result.violations, "\n".join(result.violations[:40])
    assert set(run.started) == {p.request_id for p in result.plans} or run.service == "queue"
    assert all((p.status or {}).get("phase") == "succeeded" for p in result.plans)
    assert not result.duplicates


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the 10-minute outages, and up to 15 minutes of deferral
def test_table_outages_of_30_s_2_min_and_10_min_at_every_boundary(
    azurite: Azurite, arm: ArmEmulator, figures: FigureLog
) -> None:
    """Each request loses the table at its own boundary for 30 s, 2 min or 10 min: all end
    as they would have (succeeded, one create), side by side in one run."""
    durations = tuple(float(s) for s in os.environ.get("OUTAGE_SECONDS", "30,120,600").split(","))
    run = OutageRun(azurite, arm, service="table", durations=durations, seed=SLOW_SEED)
    _check_outages(run, run.run(), "table outages", figures)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("seconds", [30.0, 120.0, 600.0])
def test_a_queue_outage_catches_requests_at_every_boundary(
    azurite: Azurite, arm: ArmEmulator, figures: FigureLog, seconds: float
) -> None:
    """The queue service goes away for every host (no receive, no send, no deferral) while a
    request per boundary is in flight: all end as they would have."""
    run = OutageRun(azurite, arm, service="queue", durations=(seconds,), seed=SLOW_SEED)
    _check_outages(run, run.run(), f"queue outage {seconds:.0f} s", figures)
