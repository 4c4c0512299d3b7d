"""The table printed by ``python -m bench``, ``docs/performance.md`` and the plot."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.armrate import Rate
from bench.overhead import TokenCost, Variant
from bench.run import SCENARIOS, CellResult
from bench.tuning import BatchCandidate, PollingCandidate, spacing_summary


@dataclass
class Run:
    command: str
    factor: float
    threads: int
    workers: int
    host_queues: dict[str, Any]
    counts: list[int]
    scenarios: list[str]
    blocking_max: int
    cells: list[CellResult] = field(default_factory=list)
    projected: list[CellResult] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    profile_text: str = ""
    token_cost: TokenCost | None = None
    polling: list[PollingCandidate] = field(default_factory=list)
    batches: list[BatchCandidate] = field(default_factory=list)
    started: str = ""
    seconds: float = 0.0
    load_before: str = ""
    load_after: str = ""
    arm_rates: list[Rate] = field(default_factory=list)
    throttled: CellResult | None = None

    def cell(self, design: str, scenario: str, n: int) -> CellResult | None:
        for cell in [*self.cells, *self.projected]:
            if (cell.design, cell.scenario, cell.n) == (design, scenario, n):
                return cell
        return None


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _spacing(cell: CellResult) -> str:
    if cell.spacing_mean is None:
        return "-"
    return f"{cell.spacing_mean:.1f} / {_f(cell.spacing_max)}"


def _overhead(cell: CellResult) -> str:
    if cell.overhead_p50_ms is None:
        return "-"
    return f"{cell.overhead_p50_ms:.1f} / {_f(cell.overhead_p99_ms)}"


def _projected(cell: CellResult) -> bool:
    return any(note.startswith("projected") for note in cell.notes)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _grid(run: Run) -> Iterator[tuple[str, int, str, CellResult]]:
    """Every (scenario, N, design, cell) the run has, measured or projected, in table order."""
    for scenario in run.scenarios:
        for n in run.counts:
            for design in ("blocking", "queue"):
                cell = run.cell(design, scenario, n)
                if cell is not None:
                    yield scenario, n, design, cell


def main_table(run: Run) -> str:
    headers = [
        "scenario",
        "N",
        "design",
        "all creating_cluster (s)",
        "all succeeded (s)",
        "worker-s / request",
        "invocations / request",
        "ARM calls / request",
        "MI token fetches / 1,000 req",
        "check spacing mean / max (s)",
        "peak RSS (MiB)",
        "own overhead p50 / p99 (ms)",
    ]
    rows = []
    for scenario, n, design, cell in _grid(run):
        mark = " (projected)" if _projected(cell) else ""
        failed = f" ({cell.failed} not succeeded)" if cell.failed and not mark else ""
        rows.append(
            [
                SCENARIOS[scenario].label,
                f"{n:,}",
                design + mark,
                _f(cell.to_creating),
                _f(cell.to_succeeded) + failed,
                _f(cell.worker_seconds_per_request, 3),
                _f(cell.invocations_per_request),
                _f(cell.arm_calls_per_request),
                "-" if mark else f"{cell.tokens_per_1000:,.0f}",
                "-" if mark else _spacing(cell),
                "-" if mark else _f(cell.peak_rss_mib),
                _overhead(cell),
            ]
        )
    return _table(headers, rows)


def ratio_table(run: Run) -> str:
    headers = [
        "scenario",
        "N",
        "worker-s / request: blocking ÷ queue",
        "all succeeded: blocking ÷ queue",
        "ARM calls / request: blocking ÷ queue",
    ]
    rows = []
    for scenario in run.scenarios:
        for n in run.counts:
            blocking, queue = run.cell("blocking", scenario, n), run.cell("queue", scenario, n)
            if blocking is None or queue is None:
                continue
            mark = " (projected)" if _projected(blocking) else ""
            worker = _ratio(blocking.worker_seconds_per_request, queue.worker_seconds_per_request)
            done = _ratio(blocking.to_succeeded, queue.to_succeeded)
            arm = _ratio(blocking.arm_calls_per_request, queue.arm_calls_per_request)
            rows.append([SCENARIOS[scenario].label, f"{n:,}{mark}", worker, done, arm])
    return _table(headers, rows)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:,.1f}x"


def growth_table(run: Run) -> str:
    counts = run.counts
    headers = ["design", "scenario", "figure", *[f"N={n:,}" for n in counts]]
    figures: tuple[tuple[str, Callable[[CellResult], float | None], int], ...] = (
        ("all succeeded (s)", lambda c: c.to_succeeded, 1),
        ("worker-s / request", lambda c: c.worker_seconds_per_request, 3),
        ("ARM calls / request", lambda c: c.arm_calls_per_request, 1),
        ("peak RSS (MiB)", lambda c: c.peak_rss_mib if not _projected(c) else None, 0),
        ("own overhead p50 (ms)", lambda c: c.overhead_p50_ms, 1),
    )
    rows = []
    for design in ("blocking", "queue"):
        for scenario in run.scenarios:
            for label, pick, digits in figures:
                if design == "blocking" and label.startswith("own"):
                    continue
                values = []
                for n in counts:
                    cell = run.cell(design, scenario, n)
                    value = pick(cell) if cell is not None else None
                    text = _f(value, digits)
                    if cell is not None and _projected(cell) and value is not None:
                        text += "*"
                    values.append(text)
                rows.append([design, scenario, label, *values])
    return _table(headers, rows)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        total = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()[0].split()[1]
        memory = f", {int(total) / 1024 / 1024:.0f} GiB RAM"
    except (OSError, IndexError, ValueError):
        pass
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} vCPU ({cpu}){memory}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def overhead_table(run: Run) -> str:
    headers = [
        "app",
        "requests (cold host, one burst)",
        "MI token fetches",
        "own overhead p50 / p99 (ms)",
        "invocation wall p50 (ms)",
        "HTTP round trips / request",
        "worker-s / request",
    ]
    rows = [
        [
            v.name,
            f"{v.result.n}",
            f"{v.result.token_fetches}",
            _overhead(v.result),
            _f(v.result.wall_p50_ms),
            _f(v.http_calls_per_request),
            _f(v.result.worker_seconds_per_request, 3),
        ]
        for v in run.variants
    ]
    table = _table(headers, rows)
    if run.token_cost is not None:
        table += "\n\n" + token_table(run.token_cost)
    return table


def token_table(cost: TokenCost) -> str:
    """The front door's token check: after the first call, no network call and well under 1 ms."""
    headers = [
        "bearer-token validation (front door)",
        "calls",
        "first call (ms, reads metadata + keys)",
        "p50 / p99 after it (ms)",
        "key fetches by the first call",
        "key fetches by the other calls",
    ]
    rows = [
        [
            "PyJWT RS256, keys cached (provisioning.bearer)",
            f"{cost.calls}",
            _f(cost.first_call_ms),
            f"{cost.p50_ms:.3f} / {cost.p99_ms:.3f}",
            f"{cost.key_fetches_first}",
            f"{cost.key_fetches_after}",
        ]
    ]
    return _table(headers, rows)


def polling_table(run: Run) -> str:
    headers = [
        "maxPollingInterval",
        "check spacing (s): mean (p50, max), configured 5",
        "idle polls in window",
        "window (s)",
        "idle GetMessages / hour, window rate",
        "idle GetMessages / hour, steady state (2 listeners)",
        "per 30-day month, steady state",
    ]
    rows = [
        [
            c.max_polling,
            spacing_summary(c.gaps),
            str(c.idle_polls),
            f"{c.idle_window:.0f}",
            f"{c.measured_per_hour:,.0f}",
            f"{c.steady_per_hour:,.0f}",
            f"{c.steady_per_hour * 24 * 30:,.0f}",
        ]
        for c in run.polling
    ]
    return _table(headers, rows)


def batch_table(run: Run) -> str:
    headers = [
        "batchSize",
        "newBatchThreshold",
        "slots (thread pool sized to match)",
        "burst",
        "all creating_cluster (s)",
        "invocation wall p50 (ms)",
        "own overhead p50 (ms)",
    ]
    rows = [
        [
            str(b.batch_size),
            str(b.threshold),
            str(b.slots),
            str(b.n),
            _f(b.to_creating),
            _f(b.wall_p50_ms),
            _f(b.overhead_p50_ms),
        ]
        for b in run.batches
    ]
    return _table(headers, rows)


def plot(run: Run, path: Path) -> bool:
    """Completion time against request count, both designs; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    colours = {"first": "tab:green", "three": "tab:orange", "window": "tab:red"}
    picks: tuple[tuple[str, Callable[[CellResult], float | None]], ...] = (
        ("until every request is creating_cluster", lambda c: c.to_creating),
        ("until every request has succeeded", lambda c: c.to_succeeded),
    )
    for axis, (title, pick) in zip(axes, picks, strict=True):
        for scenario in run.scenarios:
            for design, style in (("queue", "-"), ("blocking", "--")):
                points = [
                    (n, pick(cell), _projected(cell))
                    for n in run.counts
                    if (cell := run.cell(design, scenario, n)) is not None
                    and pick(cell) is not None
                ]
                if not points:
                    continue
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                axis.plot(
                    xs,
                    ys,
                    style,
                    color=colours.get(scenario, "black"),
                    label=f"{design}: {SCENARIOS[scenario].label}",
                )
                for x, y, projected in points:
                    axis.plot(
                        x,
                        y,
                        "o" if design == "queue" else "s",
                        color=colours.get(scenario, "black"),
                        markerfacecolor="white" if projected else colours.get(scenario, "black"),
                    )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("concurrent requests")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("wall time from submit (s)")
    axes[1].legend(fontsize=7, loc="upper left")
    figure.suptitle(
        f"queue design (solid, circles) vs blocking design (dashed, squares), W={run.workers}, "
        f"emulated ARM durations x{run.factor:g}; hollow markers: projected"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


# Flex Consumption's on-demand meters: memory-seconds of instances while at least one execution
# is active, and executions (Azure Functions pricing page, East US, pay-as-you-go, as quoted in
# 2025 by public pricing guides; before the monthly free grants; rates vary by region).
# The instance memory is the deployment's (infra/main.bicep instanceMemoryMB).
INSTANCE_MEMORY_GB = 2048 / 1024
USD_PER_GB_SECOND = 0.000026
USD_PER_EXECUTION = 0.40 / 1_000_000


def flex_cost(cell: CellResult) -> tuple[float, float, float]:
    """GB-seconds, executions and USD per 1,000 requests, billed as Flex Consumption does."""
    gb_seconds = cell.active_seconds * INSTANCE_MEMORY_GB / cell.n * 1000
    executions = cell.executions / cell.n * 1000
    return gb_seconds, executions, gb_seconds * USD_PER_GB_SECOND + executions * USD_PER_EXECUTION


def flex_table(run: Run) -> str:
    headers = [
        "scenario",
        "N",
        "design",
        "instance-s with ≥1 execution",
        "GB-s / 1,000 req",
        "executions / 1,000 req",
        "USD / 1,000 req",
    ]
    rows = []
    for scenario, n, design, cell in _grid(run):
        if not cell.executions:
            continue
        gb_s, executions, usd = flex_cost(cell)
        mark = " (projected)" if _projected(cell) else ""
        rows.append(
            [
                SCENARIOS[scenario].label,
                f"{n:,}{mark}",
                design,
                f"{cell.active_seconds:,.1f}",
                f"{gb_s:,.1f}",
                f"{executions:,.0f}",
                f"{usd:.4f}",
            ]
        )
    return _table(headers, rows)


def _throttled_verdict(cell: CellResult) -> str:
    """The throttled run's target: no request failed (429s alone must not fail one)."""
    return "met" if cell.failed == 0 else f"missed: {cell.failed} failed"


def throttled_section(run: Run) -> str:
    cell = run.throttled
    if cell is None:
        return "Not run (`--throttled 0`)."
    verdict = _throttled_verdict(cell)
    return (
        f"{cell.n:,} requests queued at once into one subscription (group visible on the first "
        "check, AKS create as in the grid) with the emulator's ARM throttling on: token buckets "
        "per subscription of 250 reads (refilled 25/s), 200 writes (10/s) and 200 deletes "
        "(10/s), as documented, each empty bucket answering 429 `SubscriptionRequestsThrottled` "
        f"with `Retry-After`. **{cell.succeeded:,} succeeded, {cell.failed:,} failed** (target: "
        f"no failure caused only by 429s: {verdict}). ARM answered **{cell.throttled_calls:,}** "
        f"calls with 429; {cell.arm_calls_per_request:.1f} ARM calls per request in all; every "
        f"request reached creating_cluster after {_f(cell.to_creating)} s and succeeded after "
        f"{_f(cell.to_succeeded)} s; {cell.worker_seconds_per_request:.3f} worker-s and "
        f"{cell.invocations_per_request or 0:.1f} invocations per request. Short waits "
        "(Retry-After ≤ 2 s) are retried inside the invocation by azure-core; longer ones go "
        "back to the queue with a visibility delay of at least Retry-After."
    )


def arm_rate_table(run: Run) -> str:
    if not run.arm_rates:
        return "Not measured (`--no-arm-rate`)."
    rows = [
        [r.name, f"{r.per_second:,.0f}", f"{r.calls:,}", f"{r.seconds:.1f}", str(r.errors)]
        for r in run.arm_rates
    ]
    return _table(["emulator", "calls / s", "calls", "seconds", "errors"], rows)


def target_lines(run: Run) -> list[str]:
    lines = []
    for n in run.counts:
        blocking, queue = run.cell("blocking", "window", n), run.cell("queue", "window", n)
        if blocking is None or queue is None or not queue.worker_seconds_per_request:
            continue
        ratio = blocking.worker_seconds_per_request / queue.worker_seconds_per_request
        verdict = "met" if ratio >= 100 else f"missed by {100 / ratio:.1f}x ({ratio:.0f}x < 100x)"
        mark = " (baseline projected)" if _projected(blocking) else ""
        lines.append(
            f"- Worker-seconds per request, 30-second-window scenario, N={n:,}{mark}: "
            f"blocking {blocking.worker_seconds_per_request:.2f} s ÷ queue "
            f"{queue.worker_seconds_per_request:.3f} s = **{ratio:,.0f}x** (target ≥ 100x: "
            f"{verdict})."
        )
        if ratio < 100 and queue.invocations_per_request:
            mean_ms = queue.worker_seconds_per_request / queue.invocations_per_request * 1000
            split = ", ".join(f"{name} {ms:.0f} ms" for name, ms in queue.http_split_ms.items())
            lines.append(
                f"  Why: the queue design's invocations took {mean_ms:.0f} ms each on average "
                f"here, of which own overhead is {_f(queue.overhead_p50_ms)} ms (p50); the rest "
                "is waiting for the loopback stand-ins (the ARM emulator and Azurite), which "
                "share the 2 vCPUs with the burst"
                + (f" (mean per invocation inside sends: {split})" if split else "")
                + ". "
                f"And the baseline's hold is shortened by the x{run.factor:g} scale of the "
                "emulated durations (AKS create, window), which the queue design's cost is not."
            )
    after = next((v for v in run.variants if v.name.startswith("after")), None)
    if after is not None and after.result.overhead_p50_ms is not None:
        p50 = after.result.overhead_p50_ms
        verdict = "met" if p50 <= 10 else f"missed by {p50 - 10:.1f} ms"
        lines.append(
            f"- Own overhead per invocation (wall - HTTP round trips), loopback, cold-host burst "
            f"of {after.result.n}: p50 **{p50:.1f} ms**, p99 {_f(after.result.overhead_p99_ms)} "
            f"ms (target p50 ≤ 10 ms: {verdict})."
            + (
                " Why: this is the harshest case, a cold host's first burst, with "
                f"{run.workers} invocations on {os.cpu_count()} shared vCPUs competing for the "
                "GIL (wall minus HTTP then includes the wait for it) while the first of them "
                "builds the clients; the p99 is those first invocations."
                if p50 > 10
                else ""
            )
        )
    if run.throttled is not None:
        cell = run.throttled
        verdict = _throttled_verdict(cell)
        lines.append(
            f"- ARM throttling on, {cell.n:,} requests into one subscription: {cell.failed} "
            f"failed, {cell.throttled_calls:,} answers were 429 (target: 0 failures caused only "
            f"by 429s: {verdict})."
        )
    grid = [c for c in run.cells if c.design == "queue" and c.overhead_p50_ms is not None]
    if grid:
        values = [c.overhead_p50_ms or 0.0 for c in grid]
        worst = max(grid, key=lambda c: c.overhead_p50_ms or 0.0)
        big = [c.overhead_p50_ms or 0.0 for c in grid if c.n >= 100]
        lines.append(
            f"- Own overhead p50 across the grid's queue cells: {min(values):.1f}-"
            f"{max(values):.1f} ms; the highest is N={worst.n:,} ({worst.scenario}), a median "
            f"of only {(worst.invocations_per_request or 0) * worst.n:.0f} invocations, one of "
            "them the cold start"
            + (
                f"; every cell of 100 or more requests is {min(big):.1f}-{max(big):.1f} ms."
                if big
                else "."
            )
        )
    return lines


def text_table(run: Run) -> str:
    return "\n\n".join([main_table(run), ratio_table(run), overhead_table(run), polling_table(run)])


def projections_note(run: Run) -> str:
    if not run.projected:
        return ""
    counts = sorted({c.n for c in run.projected})
    return (
        f"Baseline cells with N > {run.blocking_max:,} ({', '.join(f'{n:,}' for n in counts)}) "
        "are **projected, not measured**: a pool of W workers runs ⌈N/W⌉ waves of requests "
        "that each hold a worker for the whole request, so the completion time at "
        f"N={run.blocking_max:,} is scaled by ⌈N/W⌉ ÷ ⌈"
        f"{run.blocking_max:,}/W⌉, and per-request figures (worker-seconds, ARM calls) are "
        "carried over. Measuring them would take "
        + ", ".join(
            f"~{math.ceil((c.to_succeeded or 0) / 60):.0f} min ({SCENARIOS[c.scenario].key})"
            for c in run.projected
        )
        + "."
    )


def _queue_scenario(run: Run, key: str, n: int) -> CellResult | None:
    return run.cell("queue", key, n)


def reading(run: Run) -> str:
    """A short reading of this run's figures (generated, so it follows the numbers)."""
    parts = []
    largest = max(run.counts)
    smallest = min(run.counts)
    for key in run.scenarios:
        q1, qn = run.cell("queue", key, smallest), run.cell("queue", key, largest)
        b1, bn = run.cell("blocking", key, smallest), run.cell("blocking", key, largest)
        if not (q1 and qn and b1 and bn):
            continue
        parts.append(
            f"- **{SCENARIOS[key].label}.** From N={smallest:,} to N={largest:,}, the queue "
            f"design's time until every request succeeded went {_f(q1.to_succeeded)} → "
            f"{_f(qn.to_succeeded)} s, the blocking design's {_f(b1.to_succeeded)} → "
            f"{_f(bn.to_succeeded)} s{' (projected)' if _projected(bn) else ''}. A blocked "
            f"worker holds its slot {_f(b1.worker_seconds_per_request, 1)} s per request; the "
            f"queue design holds one for {_f(qn.worker_seconds_per_request, 3)} s per request "
            f"({_f(qn.invocations_per_request)} invocations)."
        )
    window = [
        (n, run.cell("blocking", "window", n), run.cell("queue", "window", n)) for n in run.counts
    ]
    ratios = [
        f"{b.worker_seconds_per_request / q.worker_seconds_per_request:,.0f}x at N={n:,}"
        for n, b, q in window
        if b and q and q.worker_seconds_per_request
    ]
    if ratios:
        parts.append(
            "- **Billing.** Worker-seconds per request, blocking ÷ queue, in the window scenario: "
            + ", ".join(ratios)
            + ". The blocking design's figure is the propagation window plus the AKS create "
            "(sleeping is billed on Consumption); the queue design's is a handful of "
            "invocations of "
            + ", ".join(
                f"{q.worker_seconds_per_request / q.invocations_per_request * 1000:.0f} ms"
                for _, _, q in window
                if q and q.invocations_per_request
            )
            + " on average (N = "
            + " / ".join(f"{n:,}" for n, _, q in window if q)
            + "), almost all of it waiting on HTTP round trips to the loopback stand-ins, "
            "which slow down as the burst grows because they share the 2 vCPUs with it."
        )
    queue_cells = [c for c in run.cells if c.design == "queue"]
    if queue_cells:
        tokens = sorted({c.token_fetches for c in queue_cells})
        rss = [c.peak_rss_mib for c in queue_cells]
        parts.append(
            f"- **Per process, not per request.** Each queue cell ran in a fresh host process and "
            f"fetched {', '.join(map(str, tokens))} managed-identity token(s) in total whatever "
            f"N was (one per process: {1000 / max(c.n for c in queue_cells):.0f} per 1,000 "
            f"requests at N={max(c.n for c in queue_cells):,}). Peak RSS of the host stayed "
            f"within {min(rss):.0f}-{max(rss):.0f} MiB from N={smallest:,} to N={largest:,}."
        )
    spaced = [c for c in queue_cells if c.spacing_mean is not None]
    if spaced:
        parts.append(
            "- **Spacing.** The queue design's checks landed "
            + ", ".join(
                f"{c.spacing_mean:.1f} s apart on average at N={c.n:,} ({c.scenario})"
                for c in spaced
            )
            + " against the configured 5 s. Up to a few hundred requests a check lands about "
            "a second after its 5 s: the visibility timeout plus the wait for the next poll "
            "(bounded by maxPollingInterval). With a backlog it lands later: one host instance "
            "with W slots works through the queue in order, and a re-enqueued message waits "
            "behind every message that became visible before it"
            + "".join(
                f"; at N={c.n:,} ({c.scenario}) this host got the first step of every request "
                f"done at ~{c.n * ((c.invocations_per_request or 1) - 1) / c.to_creating:.0f} "
                "invocations/s"
                for c in spaced
                if c.spacing_mean is not None
                and c.spacing_mean > 10
                and c.to_creating
                and c.invocations_per_request
            )
            + ". In Azure the scale controller adds instances as the queue grows; here there "
            "is one."
        )
    return "\n".join(parts)


def host_tuning_section(run: Run) -> str:
    """The README text for host.json (the lead copies it)."""
    by_interval = {c.max_polling: c for c in run.polling}
    two = by_interval.get("00:00:02")
    default = by_interval.get("00:01:00")
    one = by_interval.get("00:00:01")
    five = by_interval.get("00:00:05")

    def sp(c: PollingCandidate | None) -> str:
        return spacing_summary(c.gaps) if c else "-"

    def hour(c: PollingCandidate | None) -> str:
        return f"{c.steady_per_hour:,.0f}" if c else "-"

    batch = {(b.batch_size, b.threshold): b for b in run.batches}
    mid = batch.get((16, 8))
    small = batch.get((8, 4))
    big = batch.get((32, 16))
    batch_text = ""
    if mid and small and big:
        batch_text = (
            f" A burst of {mid.n} requests reached `creating_cluster` in "
            f"{_f(small.to_creating)} s with 8 + 4 slots, {_f(mid.to_creating)} s with 16 + 8 "
            f"and {_f(big.to_creating)} s with 32 + 16 (invocation wall p50 "
            f"{_f(small.wall_p50_ms)} / {_f(mid.wall_p50_ms)} / {_f(big.wall_p50_ms)} ms): "
            "more slots than the instance has cores buy little, because the invocations are "
            "short and the worker's thread pool (`PYTHON_THREADPOOL_THREAD_COUNT`, by default "
            "min(32, cores + 4)) caps what runs at once anyway."
        )
    return f"""### Host settings (`host.json` `extensions.queues`)

Measured with `make bench` (local queue host, Azurite, loopback; see `docs/performance.md`).

- **`maxPollingInterval: 00:00:02`.** Each visibility check re-enqueues the request with a 5 s
  visibility timeout, and an idle listener only sees it at its next poll. With the default of
  1 minute the back-off after the last message has grown to several seconds by the time the
  message reappears: checks landed {sp(default)} s apart (configured: 5 s). With 2 s they landed
  {sp(two)} s apart (1 s: {sp(one)}; 5 s: {sp(five)}). The price is idle polling while an
  instance is up: at steady state one `GetMessages` per listener per interval, two listeners
  (the queue and its poison queue), so {hour(two)} storage transactions per idle instance-hour at
  2 s against {hour(default)} at 1 minute (1 s: {hour(one)}; 5 s: {hour(five)}). Measured idle
  poll counts over a {f"{two.idle_window:.0f}" if two else "short"} s window match that rate;
  the hourly figures are extrapolated from it. 2 s keeps the checks within about a second of
  the 5 s contract for a few thousand transactions an hour, and costs nothing while the app
  is scaled in.
- **`batchSize: 16`, `newBatchThreshold: 8`** (at most 24 messages in flight per
  instance).{batch_text} Larger batches also lengthen the time a message sits received but
  not yet running.
- **`visibilityTimeout: 00:00:05`** only applies to invocations that fail (the host's retry);
  the app's own waits are the visibility timeouts it sets when it re-enqueues.
"""


def _has_before(run: Run) -> bool:
    return any(v.name.startswith("before") for v in run.variants)


def _before_lead(run: Run) -> str:
    if _has_before(run):
        return (
            "Before and after the runtime optimisation (the *before* row is this tree with\n"
            "`provisioning/runtime.py` as it was before commit d7348cf),"
        )
    return (
        "After the runtime optimisation (the *before* row, this tree with `provisioning/\n"
        "runtime.py` as it was before commit d7348cf, no longer starts: today's app imports the\n"
        "HTTP front door from `runtime.py`, which that file predates),"
    )


def _before_race(run: Run) -> str:
    return " (the table's *before* row is this run's; it can be 1)" if _has_before(run) else ""


def document(run: Run, plot_path: Path | None) -> str:
    queues = run.host_queues
    scaled_window = 30 * run.factor
    scaled_aks = 60 * run.factor
    plot_line = f"![completion time against request count]({plot_path.name})" if plot_path else ""
    profile = run.profile_text.strip()
    return f"""# Performance: the queue design against the blocking design

Generated by `make bench` (`{run.command}`) on {run.started}; the whole run took
{run.seconds / 60:.1f} minutes. Every figure below comes from this one run. Regenerate it
rather than editing it by hand.

## Where and how

- **Machine:** {machine()}. The machine was **shared** during the run with other engineers'
  suites (crash injection, infra checks), so absolute times carry noise; the two designs ran
  one after the other in the same run, and the ratios are what to read. Load average (1/5/15
  min) {run.load_before} at the start, {run.load_after} at the end.
- **Stack:** Azurite (queues, tables), the ARM emulator (`localazure.arm`, HTTPS on loopback,
  App Service managed-identity endpoint) and, for the queue design, the local queue host
  (`localazure.host`) running the unmodified `function_app.py`, wrapped by `bench.hostwrap`,
  which times each invocation and its HTTP round trips inside the host process (no test code in
  the app). The baseline (`bench/blocking.py`) runs in a process of its own with the same SDK
  clients, the same emulator and the same cluster body.
- **Slots (W):** both designs get **W = {run.workers}**. The local host, like the Functions
  host, keeps at most `batchSize + newBatchThreshold` = {queues.get("batchSize")} +
  {queues.get("newBatchThreshold")} messages in flight per queue function, and runs them on
  the Python worker's thread pool, `PYTHON_THREADPOOL_THREAD_COUNT` (1 or more; unset, min(32,
  cores + 4) = 6 on this machine; `localazure/host/runtime.py` `function_pool_size`), so the
  effective concurrency is the smaller of the two. The benchmark sets the pool to
  {run.threads} so that it does not cap the 24; with the default 6 the baseline would get 6
  slots and its 100-request cells would take four times as long.
- **host.json:** `maxPollingInterval` {queues.get("maxPollingInterval")}, `batchSize`
  {queues.get("batchSize")}, `newBatchThreshold` {queues.get("newBatchThreshold")},
  `messageEncoding` {queues.get("messageEncoding")}; app defaults otherwise (12 checks, 5 s
  apart; AKS watched every `CLUSTER_WATCH_DELAY_SECONDS` = 30 s).
- **Scenarios:** N requests queued at once (the baseline gets all N at once in its in-process
  broker), with the new group visible on the 1st check; visible on the 3rd check (the first two
  GETs answer 404); or hidden for a time window after its creation. **Emulated ARM durations
  are scaled by {run.factor:g} for both designs alike:** the 30 s window is {scaled_window:g} s
  and an AKS create takes {scaled_aks:g} s of emulated time. Queue delays stay real seconds
  (the 5 s between checks, the 30 s watch). The baseline waits for AKS with the SDK's poller;
  AKS's 201 carries no `Retry-After` (as recorded from the real service), so the poller uses its
  default 30 s interval, and both designs look at the create every 30 s.
- **The ARM emulator** is served by cheroot and keeps HTTP/1.1 connections alive over TLS, as
  ARM's front ends do; earlier runs of this benchmark used werkzeug's development server, which
  closed every connection (its calls/s before and after are measured below).
- **What was cut, and why:** the full grid is 3 scenarios x N = 1, 100, 1,000 x 2 designs.
  The blocking design at N = 1,000 is not run but projected (see below under the results): it
  holds one of W = 24 workers per request for the whole request, so it needs 42 waves of
  30-45 s, 20-32 minutes per scenario, where the whole benchmark is meant to take about 20.
  The emulated ARM durations are halved for the same reason (a 100-request baseline cell takes
  5 waves of the request's full duration). Everything else runs as listed.
- **What the columns mean:** *all creating_cluster / all succeeded*: wall time from submitting
  the N requests until the last one reached that phase. *Worker-s / request*: the function's
  own execution time summed over the request's invocations (queue design; what a Consumption
  plan bills), or the time a worker thread held the request (blocking design, sleeps
  included). The queue figure includes the host's cold start, which its first invocation pays
  (building the clients, creating the tables, fetching the token); the baseline's process
  start and client construction are not counted. *ARM calls*: every call the emulator
  answered, per request. *MI token fetches*: managed-identity endpoint calls, in total for the
  cell (one process per cell); the column normalises them per 1,000 requests. *Check spacing*:
  seconds between consecutive GETs of a group after its PUT. *Peak RSS*: the worker process
  (the host, or the baseline's process). *Own overhead*: an invocation's wall time minus the
  time inside its HTTP round trips (azure-core's transport `send` plus urllib3's body reads,
  timed on the invocation's thread).

## Results

{main_table(run)}

{projections_note(run)}

Ratios (blocking ÷ queue):

{ratio_table(run)}

How each figure grows from N = {" → ".join(f"{n:,}" for n in run.counts)} (`*` projected):

{growth_table(run)}

{plot_line}

## Targets

{chr(10).join(target_lines(run))}

## Cost as Flex Consumption bills it

On demand, Flex Consumption bills an instance's memory for the seconds in which at least one
execution is active on it ({INSTANCE_MEMORY_GB:g} GB, `instanceMemoryMB` of infra/main.bicep),
plus executions; idle seconds between executions are free. *Instance-s with ≥1 execution* is
the length of the union of the executions' intervals in the cell (queue design: every
invocation the host ran; blocking design: each request's hold of its worker, one execution per
request; both ran in one process, that is one instance). USD at Flex Consumption's on-demand
rates in East US as published in 2025 (USD {USD_PER_GB_SECOND:.6f} per GB-s, USD 0.40 per million
executions; the Azure Functions pricing page has your region's), before the monthly free grants:

{flex_table(run)}

## ARM throttling on

{throttled_section(run)}

## The ARM emulator: calls per second before and after keep-alive

Measured at the start of this run, each emulator in a process of its own, 16 client threads
each with one keep-alive `requests` session, GETting one resource group for 5 s:

{arm_rate_table(run)}

## The limit: the function's own overhead

The happy path of the first invocation makes four ARM round trips, not three: a GET of the group
before the PUT, because a PUT on an existing group replaces its tags and the app must not take
over a group it did not create; then PUT group, GET group (the visibility check), PUT AKS. Its
storage round trips are the status insert (the referee; a read follows only on a conflict), the
status write and the re-enqueue. A watch invocation is one status read, one operation GET, one
status write and one re-enqueue.

{_before_lead(run)} a cold host taking a burst of 2 x W requests (group visible, AKS instant,
1 s watch):

{overhead_table(run)}

What the profile found and what was removed:

- **Clients and credentials rebuilt per invocation — at cold start.** `get_runtime()` was
  `functools.cache`d, which is not a lock: the invocations of a cold instance's first batch
  all missed the cache together and each built its own credential, ARM and storage clients,
  created the tables and fetched its own managed-identity token (9 fetches for 10 concurrent
  requests in the first measurement). It is now built once under a lock (commit d7348cf);
  after it a cold burst fetches one token per process. Before it the count depends on how
  many first invocations race{_before_race(run)}.
- **Repeated imports:** none on the invocation path; every import is at module level and the
  first invocation pays for client construction only once.
- **Redundant storage calls:** a new request's first invocation read its status record before
  inserting it. It now inserts first and reads only on a conflict (a duplicate, a redelivery or
  a re-drive), one table round trip less per request (commit "insert-first": 11.1 → 10.1 HTTP round
  trips per request when it was made; since then the requester index of queue requests and
  the sweeper's due index each add a table write, which the table above counts); the
  crash-injection suite's boundaries (after the insert, after the commit) are unchanged.
- What remains of the own time is azure-core's pipeline (policies, request building,
  deserialisation of ARM and table answers), `parse_request` of the stored payload, and the
  log line; each invocation's own CPU is a few milliseconds. On loopback most of an
  invocation's wall time is the emulator's and Azurite's answers.

Profile of 20 requests run one invocation at a time (cProfile, sorted by own time; run with a
single pool thread so that the times are not waits for the GIL):

```
{profile}
```

The top of this list is the HTTP stack, which counts as round-trip time, not own overhead:
socket reads and requests' proxy lookup in the environment on every request
(`getproxies_environment`, the `os.environ` iteration).

## Host tuning

`maxPollingInterval` candidates ran side by side (one host each, 6 requests whose group is
hidden for 3 checks, then an idle window). Idle storage transactions per hour are extrapolated
from the back-off's steady state (one `GetMessages` per listener per interval; the window's own
rate is shown next to it — for 1 minute the window is still on the back-off's ramp).

{polling_table(run)}

`batchSize` / `newBatchThreshold` candidates, one burst each (group visible, AKS instant):

{batch_table(run)}

The text below is meant for the README:

{host_tuning_section(run)}
## Reading

{reading(run)}
"""
