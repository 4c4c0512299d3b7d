"""host.json candidates, measured: check spacing, idle polling, and burst throughput.

``maxPollingInterval`` candidates run side by side (one local host each, their own queues):
a few requests whose group stays hidden for 3 checks give the spacing actually achieved between
checks; then every host stays idle for a window in which its queue polls are counted. An idle
hour is extrapolated from the steady-state poll rate the back-off settles at, which is one
``GetMessages`` per listener per ``maxPollingInterval`` (the window shows the ramp towards it).

``batchSize``/``newBatchThreshold`` candidates run one after the other on a burst of requests.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError

from bench import run as bench_run
from bench.run import SCENARIOS, BenchHost, Scenario, Stack, group_check_gaps
from provisioning.storage import StorageConnection

POLLING_CANDIDATES = ("00:00:01", "00:00:02", "00:00:05", "00:01:00")
BATCH_CANDIDATES = ((8, 4), (16, 8), (32, 16))
LISTENERS = 2  # provision and archive_poison each poll their own queue


@dataclass
class PollingCandidate:
    max_polling: str
    seconds: float
    gaps: list[float]
    idle_polls: int
    idle_window: float

    @property
    def measured_per_hour(self) -> float:
        return self.idle_polls / self.idle_window * 3600 if self.idle_window else 0.0

    @property
    def steady_per_hour(self) -> float:
        return LISTENERS * 3600 / self.seconds


@dataclass
class BatchCandidate:
    batch_size: int
    threshold: int
    slots: int
    n: int
    to_creating: float | None
    wall_p50_ms: float | None
    overhead_p50_ms: float | None


def _seconds(timespan: str) -> float:
    hours, minutes, seconds = (float(part) for part in timespan.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def polling(
    stack: Stack, requests: int = 6, idle_window: float = 45.0, settle: float = 3.0
) -> list[PollingCandidate]:
    scenario = Scenario("tuning", "hidden for 3 checks", hidden_reads=3)
    bench_run.prepare_arm(stack.arm, scenario, stack.factor, aks_seconds=0.0)
    hosts = []
    for candidate in POLLING_CANDIDATES:
        suffix = uuid.uuid4().hex[:8]
        settings = {
            **stack.base_settings,
            "PROVISIONING_QUEUE_NAME": f"bt-{suffix}",
            "STATUS_TABLE_NAME": f"btstatus{suffix}",
            "POISON_ARCHIVE_TABLE_NAME": f"btpoison{suffix}",
            "BENCH_STATS_FILE": str(stack.work / f"tuning-{suffix}.json"),
            "CLUSTER_WATCH_DELAY_SECONDS": "1",
            "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": candidate,
        }
        connection = StorageConnection.from_env(settings)
        connection.queue(settings["PROVISIONING_QUEUE_NAME"]).create_queue()
        host = BenchHost(
            bench_run.REPO_ROOT, settings=settings, http_port=None, shutdown_timeout=20
        ).start()
        hosts.append((candidate, suffix, settings, host, connection.table(f"btstatus{suffix}")))
    try:
        for _, suffix, settings, _, _ in hosts:
            bodies = bench_run.make_requests(requests, f"t{suffix}")
            bench_run._send_all(settings, settings["PROVISIONING_QUEUE_NAME"], bodies)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done = [bench_run._terminal_count(table) >= requests for *_, table in hosts]
            if all(done):
                break
            time.sleep(1.0)
        idle_from = time.time() + settle
        time.sleep(settle + idle_window)
        idle_to = time.time()
    finally:
        for *_, host, _ in hosts:
            host.request_stop()
        for *_, host, _ in hosts:
            host.stop()
    calls = stack.arm.calls
    results = []
    for candidate, suffix, settings, _, _ in hosts:
        stats = json.loads(Path(settings["BENCH_STATS_FILE"]).read_text(encoding="utf-8"))
        polls = [at for at, _ in stats["polls"] if idle_from <= at <= idle_to]
        mine = [c for c in calls if f"rg-t{suffix}-" in c.path.lower()]
        results.append(
            PollingCandidate(
                candidate,
                _seconds(candidate),
                group_check_gaps(mine),
                len(polls),
                idle_to - idle_from,
            )
        )
    return results


def batches(stack: Stack, n: int = 100) -> list[BatchCandidate]:
    results = []
    for batch_size, threshold in BATCH_CANDIDATES:
        slots = min(batch_size + threshold, 32)
        prefix = "AzureFunctionsJobHost__extensions__queues__"
        extra = {
            f"{prefix}batchSize": str(batch_size),
            f"{prefix}newBatchThreshold": str(threshold),
            "PYTHON_THREADPOOL_THREAD_COUNT": str(slots),
            "CLUSTER_WATCH_DELAY_SECONDS": "1",
        }
        try:
            result, _ = bench_run.run_queue(
                stack, SCENARIOS["first"], n, timeout=180, extra_settings=extra, aks_seconds=0.0
            )
        except ResourceNotFoundError:  # pragma: no cover - a broken candidate is reported empty
            results.append(BatchCandidate(batch_size, threshold, slots, n, None, None, None))
            continue
        results.append(
            BatchCandidate(
                batch_size,
                threshold,
                slots,
                n,
                result.to_creating,
                result.wall_p50_ms,
                result.overhead_p50_ms,
            )
        )
    return results


def spacing_summary(gaps: list[float]) -> str:
    if not gaps:
        return "-"
    return f"{statistics.fmean(gaps):.1f} (p50 {statistics.median(gaps):.1f}, max {max(gaps):.1f})"
