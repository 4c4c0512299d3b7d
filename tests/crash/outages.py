"""Storage outages at step boundaries: the crash driver's boundaries, an outage instead of a kill.

``OutageRun`` reuses ``CrashRun``'s fleet, taps and boundary detection. When a plan reaches its
boundary, storage goes away for that plan's duration instead of the host dying:

* **table** outages are scoped to the request: every table call that names it (its status
  record, its overdue-index entry) is refused, from the boundary for ``seconds``. Requests
  run side by side, each with its own outage, so one run covers every boundary and duration.
* **queue** outages are global: every queue call of every host is refused (the hosts cannot
  receive either) for ``seconds``, from the moment the request planned for the last boundary
  (the watch check) reaches it, so the other requests, sent with it, are caught mid-way.

A refused call closes the connection (what an unreachable service looks like); the storage
client's own retries fail, and the app sees a transient storage error. The run then checks
what a crash run checks: every request ends (and, with no fault injected into ARM, succeeds),
one AKS create each, no fork survives.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from localazure.arm import ArmEmulator
from localazure.azurite import Azurite
from tests.crash.driver import KILL_POINTS, CrashResult, CrashRun, Instance, Plan
from tests.crash.tap import REFUSE, Action, Refuse, SeenRequest

# The boundaries an outage can start at (a crash run's, less the repeated-kill point).
OUTAGE_POINTS = tuple(point for point in KILL_POINTS if point != "every_delivery")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class OutageRun(CrashRun):
    """``OutageRun(azurite, arm, service="table", durations=(30, 120), ...).run()``."""

    def __init__(
        self,
        azurite: Azurite,
        arm: ArmEmulator,
        *,
        service: str,
        durations: Sequence[float],
        seed: int,
        points: Sequence[str] = OUTAGE_POINTS,
        hosts: int = 2,
        window: int | None = None,
        **options: Any,
    ) -> None:
        cases = [(point, seconds) for seconds in durations for point in points]
        longest = max(durations)
        options.setdefault("request_timeout", longest + 20 * 60)
        # No kills here, so no need for the crash runs' 3 s receive invisibility; and with it
        # the host renews a running message's pop receipt every 1.5 s, which a deferral made
        # with the trigger's receipt then loses to (the real host renews at 5 minutes).
        options.setdefault("invisibility_seconds", 30)
        super().__init__(
            azurite,
            arm,
            seed=seed,
            requests=len(cases),
            hosts=hosts,
            window=window or len(cases),
            points=points,
            **options,
        )
        # CrashRun shuffled the points over the plans; give each (point, duration) one plan.
        for plan, (point, _) in zip(self.plans, cases, strict=True):
            plan.point = point
            plan.occurrence = 1
        self.service = service
        self.points = tuple(points)
        self.seconds = {p.request_id: s for p, (_, s) in zip(self.plans, cases, strict=True)}
        self.until: dict[str, float] = {}  # request id (or "*" for the queue) -> outage end
        self.started: dict[str, float] = {}
        self.refused = 0
        self._outage_lock = threading.Lock()

    # -- an outage instead of a kill ---------------------------------------------------------

    def _start(self, plan: Plan) -> None:
        if self.service == "queue" and plan.point != self.points[-1]:
            return  # the queue's one outage starts at the last boundary: others are mid-way
        key = plan.request_id if self.service == "table" else "*"
        with self._outage_lock:
            if key in self.until:
                return  # the queue's one outage is already under way (or over)
            now = time.monotonic()
            self.until[key] = now + self.seconds[plan.request_id]
            self.started[plan.request_id] = now
            plan.kills = 0
        self.log(
            f"  {self.service} outage of {self.seconds[plan.request_id]:.0f} s from "
            f"{plan.point} of {plan.request_id}"
        )

    def _fire_arm(self, plan: Plan, peer_port: int, reason: str) -> None:
        self._start(plan)

    def _on_storage(self, instance: Instance, seen: SeenRequest) -> Action | Refuse | None:
        table = self._is_table(seen)
        fired = self._storage_boundary(seen)
        if fired is not None:
            self._start(self._by_id[fired[1]])
        if (self.service == "table") != table:
            return None
        now = time.monotonic()
        with self._outage_lock:
            if self.service == "queue":
                down = self.until.get("*", 0.0) > now
            else:
                named = {m.decode() for m in _UUID.findall(seen.path.encode() + seen.body)}
                down = any(self.until.get(rid, 0.0) > now for rid in named)
            if down:
                self.refused += 1
        return REFUSE if down else None

    def _is_table(self, seen: SeenRequest) -> bool:
        parts = seen.path.split("/", 2)
        rest = parts[2] if len(parts) == 3 else ""
        return rest.startswith((self.status_table, self.archive_table, "Tables"))

    def _decide(self, plan: Plan, events: list[str]) -> bool:
        fire = super()._decide(plan, events)
        plan.kills = 0  # an outage run kills nothing
        return fire and plan.request_id not in self.started


def outage_rows(run: OutageRun, result: CrashResult, label: str) -> list[dict[str, Any]]:
    """One report row per (duration, boundary), counted from the run's end state."""
    if run.service == "queue":
        return [_queue_row(run, result, label)]
    rows = []
    for plan in result.plans:
        seconds = run.seconds[plan.request_id]
        status = plan.status or {}
        phase = status.get("phase")
        rows.append(
            {
                "section": "Storage outages",
                "scenario": f"{label}: {seconds / 60:g} min table outage from "
                f"{KILL_POINTS[plan.point]}",
                "requests": 1,
                "kills": 0,
                "faults": int(plan.request_id in run.started),
                "messages": 1,
                "lost": result.lost([plan]),
                "duplicate_creates": max(result.creates.get(plan.request_id, 0) - 1, 0),
                "false_failures": int(phase == "failed"),
                "stranded": result.stranded([plan]),
                "outcome": result.outcome([plan])
                + ("" if plan.request_id in run.started else " (outage never started)"),
                "extra": {"point": plan.point, "seed": result.seed, "seconds": seconds},
            }
        )
    return rows


def _queue_row(run: OutageRun, result: CrashResult, label: str) -> dict[str, Any]:
    """The queue's one outage hits every request in flight, wherever each one is."""
    plans = result.plans
    seconds = max(run.seconds.values())
    trigger = next((p for p in plans if p.request_id in run.started), None)
    start = KILL_POINTS[trigger.point] if trigger else "nowhere (never started)"
    failed = sum(1 for p in plans if (p.status or {}).get("phase") == "failed")
    return {
        "section": "Storage outages",
        "scenario": f"{label}: {seconds / 60:g} min queue outage on every host (no receive, "
        f"send or deferral), from the first request's boundary ({start}), {len(plans)} "
        "requests in flight",
        "requests": len(plans),
        "kills": 0,
        "faults": run.refused,
        "messages": len(plans),
        "lost": result.lost(plans),
        "duplicate_creates": sum(max(result.creates.get(p.request_id, 0) - 1, 0) for p in plans),
        "false_failures": failed,
        "stranded": result.stranded(plans),
        "outcome": result.outcome(plans),
        "extra": {"seed": result.seed, "seconds": seconds},
    }
