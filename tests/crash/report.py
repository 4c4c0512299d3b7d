"""Write docs/reliability.md from the figures a run recorded (tests/plugins/reliability.py).

``python -m tests.crash.report <figures dir> <out.md>``; ``make crash`` runs the suites with
``RELIABILITY_RECORD=<figures dir>`` first.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.crash.driver import KILL_POINTS

SECTIONS = (
    "Crash injection",
    "Storage outages",
    "ARM faults",
    "Storage faults",
    "Bad input",
    "Least privilege",
)
COMMAND = "make crash"
COUNTED = (
    "requests",
    "kills",
    "faults",
    "messages",
    "lost",
    "duplicate_creates",
    "false_failures",
    "stranded",
)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"  # the scenario does not measure this figure
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict[str, Any]], when: datetime) -> str:
    rows = sorted(
        rows,
        key=lambda r: (
            SECTIONS.index(r["section"]) if r["section"] in SECTIONS else len(SECTIONS),
            r["test"],
            r["scenario"],
        ),
    )
    # Per-kill-point rows break a crash run down; its whole-run row carries the run's totals.
    counted = [r for r in rows if "point" not in r.get("extra", {})]
    totals = {key: sum(int(r.get(key) or 0) for r in counted) for key in COUNTED}
    seeds = sorted({r["extra"]["seed"] for r in rows if "seed" in r.get("extra", {})})
    lines = [
        "# Reliability report",
        "",
        f"Measured on {when:%Y-%m-%d %H:%M} UTC by the commands of `{COMMAND}`; the table is "
        "written by "
        "`tests/crash/report.py` from the figures the suites record, so rerunning the command "
        "regenerates it. Crash seeds: " + ", ".join(str(s) for s in seeds) + ".",
        "",
        f"**Totals:** {totals['requests']} requests, {totals['messages']} messages tried, "
        f"{totals['kills']} host kills (SIGKILL), {totals['faults']} injected faults, "
        f"**{totals['lost']} lost**, **{totals['duplicate_creates']} duplicate AKS creates**, "
        f"**{totals['false_failures']} false failures**, **{totals['stranded']} stranded**.",
        "",
        "| Section | Scenario | Requests | Kills | Faults | Messages | Lost | Duplicate creates "
        "| False failures | Stranded | Outcome |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                _cell(v)
                for v in (
                    row["section"],
                    row["scenario"],
                    row["requests"],
                    row["kills"],
                    row["faults"],
                    row["messages"],
                    row.get("lost"),
                    row.get("duplicate_creates"),
                    row.get("false_failures"),
                    row.get("stranded"),
                    row["outcome"],
                )
            )
            + " |"
        )
    lines += [
        "",
        "## What the columns mean",
        "",
        "- **Kills**: SIGKILLs of a host's whole process group. Per kill point, the kills aimed "
        "at that boundary (a request killed at every delivery counts 5); on the whole-run row, "
        "every kill, including the other requests each kill took down with it (a host dies "
        "with every message it holds).",
        "- **Lost**: requests with neither a terminal status (`succeeded`/`failed` with a "
        "reason) nor a row in the poison archive. Checked from Azurite.",
        "- **Duplicate creates**: AKS PUTs answered 201 beyond the first, per cluster, from "
        "the ARM emulator's call log.",
        "- **False failures**: requests that ended `failed` although the scenario gave them no "
        "reason to. In the crash rows the one reason is `PoisonMessage` with the poison "
        "trigger's own archive row saying so: under the baton rule only the run's current "
        "message, dead at each of its 5 deliveries (its host killed, or killed with another "
        "request's message in the same batch), ends a run. In the outage rows every failure "
        "is false.",
        "- **Stranded**: requests still non-terminal when the run ended (a request with a "
        "message still coming or a re-arm still due would have been waited for; the run waits "
        "for every request to end, so any left over is stranded).",
        "- **n/a**: a figure the scenario does not measure (it sends no request that could be "
        "lost or created twice); it counts as nothing in the totals.",
        "- **Outcome**: the final status of each request. A request killed at every delivery "
        "of its payload is poisoned unread by the host; its payload was accepted (the record "
        "exists), so the poison trigger archives it `Stale` and leaves the run alone, and the "
        "sweeper (every 3 s in these runs, re-arming what is 30 s late) re-arms it. "
        "`failed PoisonMessage` is a run whose current baton died at every delivery.",
        "- **Storage outages**: from the boundary named, the storage service is unreachable "
        "(connections closed) for the time named: the table for that request only (requests "
        "side by side, one outage each), or the queue for every host (no receive, send or "
        "deferral). The app defers its message by STORAGE_RETRY_SECONDS (60 s, doubled at each "
        "delivery). Faults: 1 when the outage started. The table-outage run's hosts use a 30 s "
        "receive invisibility: a deferral uses the pop receipt the trigger received, and the "
        "local host renews a running message every half invisibility (the real host: every 5 "
        "minutes), after which the deferral is refused and the message retried in 5 s (the "
        "queue-outage runs, where no deferral can succeed anyway, kept 3 s).",
        "- **Forks surviving**: a chain still writing the record or calling ARM more than 2 s "
        "after its request ended, or messages still circulating once every request ended. "
        "Must be 0.",
        "",
        "## Kill points",
        "",
        "| Kill point | Where the host dies |",
        "|---|---|",
        *(f"| `{name}` | {text} |" for name, text in KILL_POINTS.items()),
        "",
        "How a kill lands exactly at a boundary, with no test-only branch in the app: ARM "
        "boundaries through the emulator's `on_call` hook (after the call took effect and was "
        "logged, before the answer is written; the caller's process is found from its TCP "
        "port), storage boundaries through a per-host TCP tap in front of Azurite (after "
        "Azurite answered the write, before the host reads the answer). Precision is the wire: "
        "the service has committed the call and the host has run no further instruction that "
        "touches a service. Hosts run with a 3 s receive invisibility (the local host's "
        "test-only option; the real host uses 10 minutes) and restart at once after a kill.",
        "",
        "## Regenerate",
        "",
        "```sh",
        COMMAND,
        "# = pytest -m slow tests/crash; pytest tests/crash tests/integration/test_faults.py "
        "tests/integration/test_bad_corpus.py tests/integration/test_least_privilege.py; "
        "python -m tests.crash.report .localazure/reliability docs/reliability.md",
        "```",
        "",
        "`CRASH_SEED` and `CRASH_REQUESTS` change the long run's seed and size; "
        "`OUTAGE_SECONDS` (default `30,120,600`) the table outages' durations. The slow part "
        "takes about 40 minutes, most of it the 10-minute outages and the 15 minutes a message "
        "may be deferred.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.crash.report <figures dir> <out.md>", file=sys.stderr)
        return 2
    directory, out = Path(argv[0]), Path(argv[1])
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]
    if not rows:
        print(f"no figures in {directory}; run the suites with RELIABILITY_RECORD", file=sys.stderr)
        return 1
    out.write_text(render(rows, datetime.now(UTC)), encoding="utf-8")
    print(f"wrote {out} from {len(rows)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
