"""One benchmark cell at a time: a design, a scenario and a request count, with its figures.

The stack (Azurite, the ARM emulator and its certificates) is started once per run; every cell
gets fresh queue and table names, a freshly reset emulator and, for the queue design, a fresh
local host process, so that token fetches and peak RSS are per process and per cell.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator, Call
from localazure.azurite import Azurite
from localazure.certs import make_certificates
from localazure.host.config import load_host_json, parse_host_json
from localazure.host.process import LocalHost
from localazure.host.runtime import function_pool_size
from provisioning.storage import StorageConnection

REPO_ROOT = Path(__file__).resolve().parents[1]
AKS_CREATE_SECONDS = 60.0  # emulated time of one AKS create, before scaling
WINDOW_SECONDS = 30.0  # the propagation window of the third scenario, before scaling
CHECK_DELAY_SECONDS = 5  # RG_VISIBILITY_DELAY_SECONDS (the app's default), real seconds
CHECK_ATTEMPTS = 12  # RG_VISIBILITY_ATTEMPTS (the app's default)
TERMINAL = ("succeeded", "failed")
BENCH_LOCATION, BENCH_SIZE, BENCH_FAMILY = "westeurope", "Standard_D4s_v5", "standardDSv5Family"
BENCH_VCPU_LIMIT = 1_000_000


def git(*args: str) -> bytes | None:
    """What ``git <args>`` prints in this repository; None where git or the history is missing
    (a copy of the tree without ``.git``), so a before/after comparison is skipped."""
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    label: str
    hidden_reads: int = 0
    window_seconds: float = 0.0  # before scaling


SCENARIOS = {
    "first": Scenario("first", "visible on the 1st check"),
    "three": Scenario("three", "visible on the 3rd check (2 misses)", hidden_reads=2),
    "window": Scenario("window", "hidden for a 30 s window", window_seconds=WINDOW_SECONDS),
}


@dataclass
class CellResult:
    design: str  # "queue" or "blocking"
    scenario: str
    n: int
    succeeded: int = 0
    failed: int = 0
    to_creating: float | None = None  # s from submit until every request is creating_cluster
    to_succeeded: float | None = None  # s until every request succeeded
    worker_seconds_per_request: float = 0.0
    invocations_per_request: float | None = None
    arm_calls_per_request: float = 0.0
    token_fetches: int = 0
    processes: int = 1
    spacing_mean: float | None = None
    spacing_p50: float | None = None
    spacing_max: float | None = None
    peak_rss_mib: float = 0.0
    overhead_p50_ms: float | None = None
    overhead_p99_ms: float | None = None
    wall_p50_ms: float | None = None
    http_p50_ms: float | None = None
    cpu_p50_ms: float | None = None
    # Mean ms per invocation spent sending to each service (ARM, table, queue, identity).
    http_split_ms: dict[str, float] = field(default_factory=dict)
    # Flex Consumption bills on-demand instances for the seconds in which at least one execution
    # is active (times the instance memory), plus executions.
    active_seconds: float = 0.0
    executions: int = 0
    throttled_calls: int = 0  # ARM answers 429 (throttling on)
    cell_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def tokens_per_1000(self) -> float:
        return self.token_fetches / self.n * 1000

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_1000": self.tokens_per_1000}


class BenchHost(LocalHost):
    """The local host run through ``bench.hostwrap`` (the same host, with timers around it)."""

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("localazure.host")] = "bench.hostwrap"
        return command


@dataclass
class Stack:
    azurite: Azurite
    arm: ArmEmulator
    work: Path
    factor: float
    threads: int

    @property
    def base_settings(self) -> dict[str, str]:
        return {
            "AzureWebJobsStorage": self.azurite.connection_string,
            "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
            "PYTHON_THREADPOOL_THREAD_COUNT": str(self.threads),
            **self.arm.env(),
        }

    def effective_concurrency(self, settings: Mapping[str, str] | None = None) -> int:
        """``batchSize + newBatchThreshold`` of host.json, capped by the worker's thread pool."""
        merged = {**self.base_settings, **(settings or {})}
        options = parse_host_json(load_host_json(REPO_ROOT), merged)
        return min(options.queues.max_in_flight, function_pool_size(merged))


@contextmanager
def stack(work: Path, factor: float, threads: int) -> Iterator[Stack]:
    with ExitStack() as stack_:
        certs = make_certificates(work / "certs")
        azurite = stack_.enter_context(Azurite())
        arm = stack_.enter_context(ArmEmulator(certs))
        yield Stack(azurite, arm, work, factor, threads)


def active_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the (start, end) intervals (their union's length)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def prepare_arm(
    arm: ArmEmulator,
    scenario: Scenario,
    factor: float,
    aks_seconds: float | None = None,
    *,
    throttle: bool = False,
) -> None:
    arm.reset()
    # Quota for every cluster of the largest cell: the benchmark measures waits, not refusals.
    arm.set_vcpu_quota(BENCH_LOCATION, BENCH_FAMILY, limit=BENCH_VCPU_LIMIT)
    if throttle:  # ARM's documented token buckets per subscription
        arm.set_throttling()
    arm.set_read_lag(reads=scenario.hidden_reads, seconds=scenario.window_seconds * factor)
    aks = AKS_CREATE_SECONDS * factor if aks_seconds is None else aks_seconds
    arm.set_cluster_create(polls=0, seconds=aks)


def make_requests(n: int, tag: str) -> list[str]:
    bodies = []
    for index in range(n):
        request = {
            "request_id": str(uuid.uuid4()),
            "subscription_id": DEFAULT_SUBSCRIPTION,
            "resource_group": f"rg-{tag}-{index}",
            "location": BENCH_LOCATION,
            "cluster": {
                "name": f"aks-{index}",
                "kubernetes_version": "1.31",
                "node_count": 3,
                "vm_size": BENCH_SIZE,
            },
            "tags": {"team": "bench"},
        }
        bodies.append(json.dumps(request, separators=(",", ":")))
    return bodies


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def group_check_gaps(calls: Iterable[Call]) -> list[float]:
    """Seconds between consecutive GETs of each group, counting only GETs after its PUT."""
    puts: dict[str, float] = {}
    gets: dict[str, list[float]] = defaultdict(list)
    for call in sorted(calls, key=lambda c: c.time):
        path = call.path.split("?", 1)[0].lower().rstrip("/")
        parts = path.split("/")
        if len(parts) != 5 or parts[3] != "resourcegroups":
            continue
        if call.method == "PUT":
            puts.setdefault(path, call.time)
        elif call.method == "GET" and path in puts:
            gets[path].append(call.time)
    gaps: list[float] = []
    for times in gets.values():
        gaps.extend(b - a for a, b in itertools.pairwise(times))
    return gaps


def _arm_figures(result: CellResult, arm: ArmEmulator) -> None:
    calls = [c for c in arm.calls if not c.path.startswith("/_admin")]
    result.arm_calls_per_request = len(calls) / result.n
    result.token_fetches = sum(arm.token_fetches.values())
    result.throttled_calls = sum(1 for c in calls if c.status == 429)
    gaps = group_check_gaps(calls)
    if gaps:
        result.spacing_mean = statistics.fmean(gaps)
        result.spacing_p50 = _pct(gaps, 0.5)
        result.spacing_max = max(gaps)


def _completion(
    result: CellResult, t0: float, per_request: Mapping[str, Mapping[str, float]]
) -> None:
    creating = [p.get("creating_cluster", p.get("succeeded")) for p in per_request.values()]
    done = [p.get("succeeded") for p in per_request.values()]
    result.succeeded = sum(1 for t in done if t is not None)
    result.failed = result.n - result.succeeded
    if len(creating) == result.n and all(t is not None for t in creating):
        result.to_creating = max(t for t in creating if t is not None) - t0
    if len(done) == result.n and all(t is not None for t in done):
        result.to_succeeded = max(t for t in done if t is not None) - t0


def _send_all(queue_url_settings: Mapping[str, str], queue_name: str, bodies: list[str]) -> None:
    connection = StorageConnection.from_env(queue_url_settings)
    clients = [connection.queue(queue_name) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(
            pool.map(
                lambda ib: clients[ib[0] % len(clients)].send_message(ib[1]), enumerate(bodies)
            )
        )


def _terminal_count(table: TableClient) -> int:
    try:
        return sum(1 for e in table.list_entities(select=["phase"]) if e.get("phase") in TERMINAL)
    except ResourceNotFoundError:
        return 0


def _http_split(stack_: Stack, invocations: list[dict[str, Any]]) -> dict[str, float]:
    """Mean ms per invocation inside sends to ARM, Azurite's table and queue, the MI endpoint."""
    labels = {
        urlsplit(stack_.arm.url).netloc: "ARM",
        urlsplit(stack_.arm.env()["IDENTITY_ENDPOINT"]).netloc: "identity",
        f"{stack_.azurite.host}:{stack_.azurite.port('table')}": "table",
        f"{stack_.azurite.host}:{stack_.azurite.port('queue')}": "queue",
    }
    totals: dict[str, float] = defaultdict(float)
    for invocation in invocations:
        for netloc, seconds in invocation.get("http_send_by_target", {}).items():
            totals[labels.get(netloc, netloc)] += seconds
    count = max(len(invocations), 1)
    return {label: seconds / count * 1000 for label, seconds in sorted(totals.items())}


def run_queue(
    stack_: Stack,
    scenario: Scenario,
    n: int,
    *,
    timeout: float,
    extra_settings: Mapping[str, str] | None = None,
    profile: Path | None = None,
    app_dir: Path | None = None,
    aks_seconds: float | None = None,
    reset_arm: bool = True,
    tag: str = "",
    throttle: bool = False,
) -> tuple[CellResult, dict[str, Any]]:
    """The app as deployed: the local queue host running function_app.py."""
    cell_started = time.monotonic()
    suffix = uuid.uuid4().hex[:10]
    queue_name, table_name = f"bq-{suffix}", f"bstatus{suffix}"
    stats_file = stack_.work / f"queue-{suffix}.json"
    settings = {
        **stack_.base_settings,
        "PROVISIONING_QUEUE_NAME": queue_name,
        "STATUS_TABLE_NAME": table_name,
        "POISON_ARCHIVE_TABLE_NAME": f"bpoison{suffix}",
        "BENCH_STATS_FILE": str(stats_file),
        **(extra_settings or {}),
    }
    if profile is not None:
        settings["BENCH_PROFILE"] = str(profile)
    connection = StorageConnection.from_env(settings)
    connection.queue(queue_name).create_queue()
    table = connection.table(table_name)
    if reset_arm:
        prepare_arm(stack_.arm, scenario, stack_.factor, aks_seconds, throttle=throttle)
    result = CellResult("queue", scenario.key, n)
    host = BenchHost(app_dir or REPO_ROOT, settings=settings, http_port=None, shutdown_timeout=20)
    host.start()
    try:
        t0 = time.time()
        _send_all(settings, queue_name, make_requests(n, f"q{tag}{suffix}"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _terminal_count(table) >= n:
                break
            time.sleep(1.0)
        else:
            result.notes.append(f"timed out after {timeout:.0f} s")
    finally:
        host.stop()
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    per_request: dict[str, dict[str, float]] = defaultdict(dict)
    for at, request_id, phase in stats["phases"]:
        per_request[request_id].setdefault(phase, at)
    _completion(result, t0, per_request)
    provision = [i for i in stats["invocations"] if i["function"] == "provision"]
    result.worker_seconds_per_request = sum(i["wall"] for i in provision) / n
    result.invocations_per_request = len(provision) / n
    overheads = [(i["wall"] - i["http"]) * 1000 for i in provision]
    result.overhead_p50_ms = _pct(overheads, 0.5)
    result.overhead_p99_ms = _pct(overheads, 0.99)
    result.wall_p50_ms = _pct([i["wall"] * 1000 for i in provision], 0.5)
    result.http_p50_ms = _pct([i["http"] * 1000 for i in provision], 0.5)
    result.cpu_p50_ms = _pct([i["cpu"] * 1000 for i in provision], 0.5)
    result.http_split_ms = _http_split(stack_, provision)
    result.peak_rss_mib = stats["peak_rss_kib"] / 1024
    every = stats["invocations"]
    result.executions = len(every)
    result.active_seconds = active_seconds((i["start"], i["start"] + i["wall"]) for i in every)
    if reset_arm:
        _arm_figures(result, stack_.arm)
    result.cell_seconds = time.monotonic() - cell_started
    return result, stats


def run_blocking(
    stack_: Stack,
    scenario: Scenario,
    n: int,
    *,
    workers: int,
    polling_interval: float | None = None,
) -> CellResult:
    """The baseline: ``bench.blocking`` in its own process with ``workers`` threads."""
    cell_started = time.monotonic()
    suffix = uuid.uuid4().hex[:10]
    table_name = f"bblock{suffix}"
    connection = StorageConnection.from_env(stack_.base_settings)
    connection.table(table_name).create_table()
    prepare_arm(stack_.arm, scenario, stack_.factor)
    spec = {
        "arm_endpoint": stack_.arm.url,
        "subscription_id": DEFAULT_SUBSCRIPTION,
        "connection_string": stack_.azurite.connection_string,
        "status_table": table_name,
        "workers": workers,
        "attempts": CHECK_ATTEMPTS,
        "delay_seconds": CHECK_DELAY_SECONDS,
        "requests": make_requests(n, f"b{suffix}"),
        "polling_interval": polling_interval,
    }
    spec_file, out_file = (
        stack_.work / f"blocking-{suffix}.json",
        stack_.work / f"out-{suffix}.json",
    )
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, **stack_.arm.env(), "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run(
        [sys.executable, "-m", "bench.blocking", str(spec_file), str(out_file)],
        env=env,
        cwd=REPO_ROOT,
        check=True,
    )
    out = json.loads(out_file.read_text(encoding="utf-8"))
    result = CellResult("blocking", scenario.key, n)
    per_request = {
        r["request_id"]: {k: v for k, v in r.items() if isinstance(v, float)}
        for r in out["results"]
    }
    _completion(result, out["started"], per_request)
    result.worker_seconds_per_request = sum(r["released"] - r["picked"] for r in out["results"]) / n
    errors = [r["outcome"] for r in out["results"] if r["outcome"].startswith("error")]
    if errors:
        result.notes.append(f"{len(errors)} errors, first: {errors[0]}")
    result.peak_rss_mib = out["peak_rss_kib"] / 1024
    # One execution per request, holding its worker from pick-up to release.
    result.executions = n
    result.active_seconds = active_seconds(
        (r["picked"], r["released"]) for r in out["results"] if "released" in r
    )
    _arm_figures(result, stack_.arm)
    result.cell_seconds = time.monotonic() - cell_started
    return result
