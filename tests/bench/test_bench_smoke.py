"""A tiny slice of ``make bench``: 3 requests through both designs, figures produced and sane.

The real benchmark (``python -m bench``) takes about 20 minutes; this runs the same code on the
same stand-ins with short waits (1 s watch and LRO poll interval, emulated ARM durations x 0.02).
Its time bounds check the shape of the figures (a wait happened, the queue design holds no slot
through it), loose enough for 24 threads on a loaded 2-core machine; the figures themselves come
from ``make bench``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report
from bench.run import SCENARIOS, Scenario, Stack, active_seconds, run_blocking, run_queue
from localazure.arm import ArmEmulator
from localazure.azurite import Azurite

N = 3


@pytest.fixture
def bench_stack(azurite: Azurite, arm: ArmEmulator, tmp_path: Path) -> Stack:
    return Stack(azurite, arm, tmp_path, factor=0.02, threads=24)


def test_both_designs_produce_sane_figures(bench_stack: Stack, tmp_path: Path) -> None:
    scenario = Scenario("three", "visible on the 2nd check", hidden_reads=1)
    workers = bench_stack.effective_concurrency()
    assert workers == 24  # batchSize 16 + newBatchThreshold 8, not capped by 24 threads

    blocking = run_blocking(bench_stack, scenario, N, workers=workers, polling_interval=1)
    queue, stats = run_queue(
        bench_stack,
        scenario,
        N,
        timeout=90,
        extra_settings={"CLUSTER_WATCH_DELAY_SECONDS": "1"},
    )

    for cell in (blocking, queue):
        assert cell.succeeded == N, cell
        assert cell.to_creating is not None and cell.to_succeeded is not None
        assert 0 < cell.to_creating <= cell.to_succeeded < 90
        # One 5 s wait between two checks, as configured, in both designs (never shorter).
        assert cell.spacing_mean is not None and 4.9 <= cell.spacing_mean <= 45, cell
        assert cell.peak_rss_mib > 10
        # PUT group, 2 GETs, PUT AKS and at least one look at the create (queue: + 1 GET first).
        assert 5 <= cell.arm_calls_per_request <= 12, cell
    # One managed-identity token per process, however many requests.
    assert queue.token_fetches == 1
    # The blocking worker holds its slot through both waits; the queue design does not.
    assert blocking.worker_seconds_per_request > 4.9
    assert queue.worker_seconds_per_request < 4.9  # less than the one wait it does not hold
    assert queue.invocations_per_request is not None and queue.invocations_per_request >= 3
    assert queue.overhead_p50_ms is not None and queue.overhead_p50_ms > 0
    assert all(i["http"] < i["wall"] for i in stats["invocations"])
    # Every invocation reads its status (table), calls ARM and re-enqueues or writes (queue);
    # the cold start fetches the one token (identity).
    split = queue.http_split_ms
    assert set(split) == {"ARM", "table", "queue", "identity"}, split
    assert all(ms > 0 for ms in split.values())
    # Flex Consumption's meters: active instance-seconds (the union, never more than the sum of
    # the executions) and executions.
    assert blocking.executions == N and queue.executions >= 3 * N
    assert 4.9 < blocking.active_seconds <= blocking.worker_seconds_per_request * N
    walls = sum(i["wall"] for i in stats["invocations"])
    assert 0 < queue.active_seconds <= walls + 1e-6

    run = report.Run(
        command="smoke",
        factor=0.02,
        threads=24,
        workers=workers,
        host_queues={"batchSize": 16, "newBatchThreshold": 8},
        counts=[N],
        scenarios=[scenario.key],
        blocking_max=N,
        cells=[blocking, queue],
        throttled=queue,
    )
    document = report.document(run, None)
    assert "## Cost as Flex Consumption bills it" in document
    assert "## ARM throttling on" in document and "(target: no failure" in document
    label = SCENARIOS[scenario.key].label
    assert f"| {label} | 3 | blocking |" in document
    assert f"| {label} | 3 | queue |" in document
    if report.plot(run, tmp_path / "plot.png"):  # matplotlib is a bench-only requirement
        assert (tmp_path / "plot.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0.0),
        ([(0, 2), (1, 3), (5, 6)], 4.0),
        ([(0, 10), (2, 3)], 10.0),
        ([(3, 4), (0, 1)], 2.0),
    ],
)
def test_active_seconds_is_the_union_of_the_executions(
    intervals: list[tuple[float, float]], expected: float
) -> None:
    """Flex Consumption bills the seconds with at least one execution: overlaps count once."""
    assert active_seconds(intervals) == expected
