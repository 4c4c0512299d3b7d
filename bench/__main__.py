"""``python -m bench`` (``make bench``): the queue design against the blocking design it replaces.

Starts Azurite and the ARM emulator, runs every (scenario, request count) cell for both designs
one after the other, measures the function's own overhead before and after the optimisation,
measures host.json candidates, prints the tables, and writes ``docs/performance.md`` and
``docs/performance.png``. ``--quick`` is a small slice (3 requests) for a first look.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench import armrate, overhead, report, tuning
from bench.run import REPO_ROOT, SCENARIOS, CellResult, Stack, run_blocking, run_queue, stack
from localazure.host.config import load_host_json
from localazure.host.process import LocalHostError


def _counts(text: str) -> list[int]:
    return [int(part.replace(",", "").replace("_", "")) for part in text.split(",") if part]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--counts", type=_counts, default=[1, 100, 1000])
    parser.add_argument("--scenarios", default="first,three,window")
    parser.add_argument(
        "--factor",
        type=float,
        default=0.5,
        help="scale of emulated ARM durations (lag window, AKS create) for both designs",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=24,
        help="PYTHON_THREADPOOL_THREAD_COUNT for the host (W follows from it and host.json)",
    )
    parser.add_argument(
        "--blocking-max",
        type=int,
        default=100,
        help="largest N the baseline is measured at; larger N are projected from it",
    )
    parser.add_argument("--cell-timeout", type=float, default=900)
    parser.add_argument("--no-tuning", action="store_true")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument(
        "--throttled",
        type=int,
        default=200,
        help="requests of the queue-design run with ARM's throttling buckets on (0: no such run)",
    )
    parser.add_argument("--no-arm-rate", action="store_true", help="skip the emulator calls/s")
    parser.add_argument("--quick", action="store_true", help="3 requests, first scenario only")
    parser.add_argument("--doc", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument("--plot", type=Path, default=REPO_ROOT / "docs" / "performance.png")
    parser.add_argument("--json", type=Path, default=None, help="also write raw figures here")
    args = parser.parse_args(argv)
    if args.quick:
        args.counts, args.scenarios = [3], "first"
        args.no_tuning = args.no_overhead = True
        args.throttled = min(args.throttled, 3)
    return args


def project(measured: CellResult, n: int, workers: int) -> CellResult:
    """A baseline cell at ``n`` from one measured at a smaller N (waves of W requests)."""
    waves = math.ceil(n / workers) / math.ceil(measured.n / workers)
    return replace(
        measured,
        n=n,
        to_creating=None if measured.to_creating is None else measured.to_creating * waves,
        to_succeeded=None if measured.to_succeeded is None else measured.to_succeeded * waves,
        active_seconds=measured.active_seconds * waves,
        executions=n,
        notes=[f"projected from N={measured.n} x {waves:g} waves"],
    )


def _overhead_variants(s: Stack, work: Path, burst: int) -> list[overhead.Variant]:
    """The app's own overhead before and after the runtime optimisation (before when it runs)."""
    variants = []
    before_dir = overhead.before_app(work)
    if before_dir is not None:
        try:
            variants.append(overhead.measure(s, burst, before_dir, "before (d7348cf^)"))
        except LocalHostError as exc:
            # That runtime.py predates modules today's app imports (the front door's).
            first = str(exc).strip().splitlines()[-1][:200]
            print(f"  before (d7348cf^) could not start: {first}", flush=True)
    variants.append(overhead.measure(s, burst, None, "after (this tree)"))
    return variants


def execute(args: argparse.Namespace, command: str) -> report.Run:
    scenarios = [s for s in args.scenarios.split(",") if s]
    for key in scenarios:
        if key not in SCENARIOS:
            raise SystemExit(f"unknown scenario {key!r}; choose from {', '.join(SCENARIOS)}")
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="aks-bench-") as work,
        stack(Path(work), args.factor, args.threads) as s,
    ):
        workers = s.effective_concurrency()
        host_json = load_host_json(REPO_ROOT).get("extensions", {}).get("queues", {})
        run = report.Run(
            command=command,
            factor=args.factor,
            threads=args.threads,
            workers=workers,
            host_queues=host_json,
            counts=args.counts,
            scenarios=scenarios,
            blocking_max=args.blocking_max,
            started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            load_before=report.load_average(),
        )
        if not args.no_arm_rate:
            print("ARM emulator calls/s, before and after keep-alive …", flush=True)
            run.arm_rates = armrate.before_and_after(Path(work))
            for rate in run.arm_rates:
                print(f"  {rate.name}: {rate.per_second:.0f} calls/s", flush=True)
        print(
            f"W = {workers} (batchSize + newBatchThreshold capped by the thread pool of "
            f"{args.threads}); emulated ARM durations x {args.factor:g}",
            flush=True,
        )
        for n in args.counts:
            for key in scenarios:
                scenario = SCENARIOS[key]
                if n <= args.blocking_max:
                    cell = run_blocking(s, scenario, n, workers=workers)
                    run.cells.append(cell)
                    _progress(cell)
                else:
                    base = max(
                        (c for c in run.cells if c.design == "blocking" and c.scenario == key),
                        key=lambda c: c.n,
                        default=None,
                    )
                    if base is not None:
                        run.projected.append(project(base, n, workers))
                queue_cell, _ = run_queue(s, scenario, n, timeout=args.cell_timeout)
                run.cells.append(queue_cell)
                _progress(queue_cell)
        if args.throttled:
            print(f"ARM throttling on: {args.throttled} requests into one subscription …")
            run.throttled, _ = run_queue(
                s, SCENARIOS["first"], args.throttled, timeout=args.cell_timeout, throttle=True
            )
            _progress(run.throttled, "throttled")
        if not args.no_overhead:
            run.variants.extend(_overhead_variants(s, Path(work), workers * 2))
            for variant in run.variants:
                _progress(variant.result, variant.name)
            run.profile_text = overhead.profile(s, 20, Path(work) / "profile.out")
            run.token_cost = overhead.token_validation()
        if not args.no_tuning:
            print("host.json candidates: maxPollingInterval side by side …", flush=True)
            run.polling = tuning.polling(s)
            print("host.json candidates: batchSize / newBatchThreshold …", flush=True)
            run.batches = tuning.batches(s)
        run.load_after = report.load_average()
    run.seconds = time.monotonic() - started
    return run


def _progress(cell: CellResult, label: str = "") -> None:
    print(
        f"  {label or cell.design:>9} {cell.scenario:>6} N={cell.n:<5} "
        f"creating {report._f(cell.to_creating)} s, succeeded {report._f(cell.to_succeeded)} s, "
        f"worker-s/req {cell.worker_seconds_per_request:.3f}, ARM/req "
        f"{cell.arm_calls_per_request:.1f}, tokens {cell.token_fetches}, "
        f"overhead p50 {report._f(cell.overhead_p50_ms)} ms "
        f"[{cell.cell_seconds:.0f} s{'; ' + '; '.join(cell.notes) if cell.notes else ''}]",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = "python -m bench " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    run = execute(args, command.strip())
    print()
    print(report.text_table(run))
    if run.batches:
        print()
        print(report.batch_table(run))
    print()
    print("\n".join(report.target_lines(run)))
    plotted = report.plot(run, args.plot)
    args.doc.write_text(report.document(run, args.plot if plotted else None), encoding="utf-8")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "cells": [c.as_dict() for c in run.cells],
                    "projected": [c.as_dict() for c in run.projected],
                },
                indent=1,
            ),
            encoding="utf-8",
        )
    print(f"\nwrote {args.doc}" + (f" and {args.plot}" if plotted else " (no plot: no matplotlib)"))
    print(f"the whole run took {run.seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
