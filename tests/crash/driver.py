"""Crash injection: many requests, several local hosts on one queue, SIGKILL at step boundaries.

How a kill point is hit (no test-only branch in the app):

* **ARM boundaries** (group PUT, visibility check, AKS PUT, watch check, the group GET of each
  delivery): an ``ArmEmulator.on_call`` hook runs after the emulator has answered a call (its
  state changed, the call logged) and before the answer goes on the wire. The hook finds which
  host process owns the caller's TCP port (``/proc/net/tcp`` and ``/proc/<pid>/fd``) and
  SIGKILLs its process group there. The host dies having done the call without seeing its answer.
* **Storage boundaries** (status insert, status commit, re-enqueue): each host reaches Azurite
  through its own ``Tap`` (queue and table). The tap sees the request, forwards it, and kills
  the host when the first byte of Azurite's answer comes back: the write is stored, the host
  never hears so. For the re-enqueue that is "after the send, before the function returns".

Precision: exact at the wire. The kill lands after the service committed the call and before
the host reads the answer; the host's own next instruction never runs. What cannot be hit this
way is a kill between two instructions that touch no service (pure computation), which has no
effect outside the process anyway.

Every host is restarted at once after its kill; messages it held come back after the local
host's short receive invisibility. The invariants are checked from Azurite and the emulator's
call log (see ``CrashResult.violations``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, InitVar, dataclass, field
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator, Call
from localazure.azurite import Azurite
from localazure.host import LocalHost
from localazure.host.process import LocalHostError
from tests.crash.tap import Action, Refuse, SeenRequest, Tap

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_DEQUEUE_COUNT = 5  # host.json
TERMINAL = ("succeeded", "failed")

# Kill point → where it lands. "every_delivery" kills each delivery of the SPA message at its
# first ARM call until the host poisons the message unread (DequeueCount past the limit).
KILL_POINTS: dict[str, str] = {
    "status_write": "after the status record's insert, before the first ARM call",
    "group_put": "after the resource-group PUT",
    "check": "after the visibility check (a GET of the group after its PUT)",
    "status_commit": "after a step's ETag-conditional status write, before the re-enqueue",
    "reenqueue": "after the re-enqueue, before the function returns",
    "aks_put": "after the AKS create PUT",
    "watch_check": "after a watch check (GET of the create operation)",
    "every_delivery": "at every delivery of the request's payload, until the host poisons it "
    "unread (the payload was accepted, so it is archived Stale; the sweeper re-arms the run)",
}
# Boundaries that occur more than once per request: which occurrence is killed is random.
REPEATED = ("status_commit", "reenqueue")


@dataclass
class Plan:
    request: dict[str, Any]
    point: str
    occurrence: int = 1
    kills: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    group_put_seen: bool = False
    sent_at: float = 0.0
    terminal_at: float | None = None
    terminal_etag: str | None = None
    status: dict[str, Any] | None = None

    @property
    def request_id(self) -> str:
        return str(self.request["request_id"])

    @property
    def group(self) -> str:
        return str(self.request["resource_group"]).lower()

    @property
    def planned_kills(self) -> int:
        return MAX_DEQUEUE_COUNT if self.point == "every_delivery" else 1


def socket_owner(peer_port: int, server_port: int, pids: Iterable[int]) -> int | None:
    """The pid (among ``pids``) holding the TCP socket ``127.0.0.1:peer_port → :server_port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
            next(lines)
            for line in lines:
                cells = line.split()
                local, remote = cells[1], cells[2]
                if (
                    int(local.rsplit(":", 1)[1], 16) == peer_port
                    and int(remote.rsplit(":", 1)[1], 16) == server_port
                ):
                    inode = cells[9]
                    break
        if inode:
            break
    if not inode:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
        except OSError:
            continue
    return None


def _wait_dead(pid: int, timeout: float = 3.0) -> None:
    """Until ``pid`` is a zombie or gone (SIGKILL is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.001)


class Instance:
    """One host process of the fleet, with its taps; killed on demand, restarted at once."""

    def __init__(self, index: int, make_host: Callable[[], LocalHost], taps: list[Tap]) -> None:
        self.index = index
        self.host = make_host()
        self.taps = taps
        self.kills = 0
        self.restarts = 0
        self.kill_log: list[str] = []
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> None:
        """Start the host from the supervisor thread and wait until it is ready.

        The local host's children get SIGTERM when the *thread* that forked them ends
        (``PR_SET_PDEATHSIG``), so every start happens on the long-lived supervisor thread.
        """
        self._wanted.set()
        self._thread.start()
        if not self._started.wait(60):
            raise LocalHostError(f"host {self.index} did not start:\n{self.host.output}")

    @property
    def pid(self) -> int | None:
        return self.host.pid

    def crash(self, reason: str) -> bool:
        """SIGKILL the host's process group now; the supervisor restarts it."""
        with self._lock:
            pid = self.host.pid
            if pid is None or self._stopping.is_set():
                return False
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            _wait_dead(pid)
            self.kills += 1
            self.kill_log.append(f"{time.time():.3f} {reason}")
            self._wanted.set()
            return True

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            if not self._wanted.wait(0.2):
                continue
            self._wanted.clear()
            with self._lock:
                if self._stopping.is_set():
                    return
                restart = self.host.pid is not None
                self.host.kill()  # reap
                for _ in range(3):
                    try:
                        self.host.start()
                        self.restarts += int(restart)
                        self._started.set()
                        break
                    except LocalHostError:
                        time.sleep(0.5)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self.host.request_stop()
        self.host.stop()
        for tap in self.taps:
            tap.close()


@dataclass
class CrashResult:
    seed: int
    hosts: int
    plans: list[Plan]
    instances_kills: int
    restarts: int
    seconds: float
    host_poisonings: int
    archive_rows: list[dict[str, Any]]
    duplicates: dict[str, int]
    creates: dict[str, int]
    forks: list[str]
    violations: list[str]
    outputs: list[str]

    def by_point(self) -> dict[str, list[Plan]]:
        out: dict[str, list[Plan]] = {}
        for plan in self.plans:
            out.setdefault(plan.point, []).append(plan)
        return out

    def outcome(self, plans: list[Plan]) -> str:
        codes: Counter[str] = Counter()
        for plan in plans:
            status = plan.status or {}
            phase = status.get("phase", "missing")
            if phase == "failed":
                error = json.loads(status.get("error") or "{}")
                phase = f"failed {error.get('code', '?')}"
            codes[phase] += 1
        return ", ".join(f"{n} {what}" for what, n in sorted(codes.items()))

    def lost(self, plans: list[Plan]) -> int:
        archived = {row["PartitionKey"] for row in self.archive_rows}
        return sum(
            1
            for p in plans
            if (p.status or {}).get("phase") not in TERMINAL and p.request_id not in archived
        )

    def false_failures(self, plans: list[Plan]) -> int:
        """Failed although nothing made them fail. No fault is injected into ARM in a crash run,
        so the one true failure is ``PoisonMessage``, and only when the poison trigger archived
        the run's own current baton (reason ``PoisonMessage``: under the baton rule, a message
        of the run's current step that died at each of its deliveries). Any other code, or a
        PoisonMessage failure without such an archive row, is a false failure."""
        batons = {
            row["PartitionKey"]
            for row in self.archive_rows
            if str(row.get("reason", "")).startswith("PoisonMessage")
        }
        count = 0
        for plan in plans:
            status = plan.status or {}
            if status.get("phase") != "failed":
                continue
            code = json.loads(status.get("error") or "{}").get("code")
            count += int(code != "PoisonMessage" or plan.request_id not in batons)
        return count

    def stranded(self, plans: list[Plan]) -> int:
        """Still non-terminal when the run ended (the run waits for every request to end)."""
        return sum(1 for p in plans if (p.status or {}).get("phase") not in TERMINAL)

    def archived(self, plans: list[Plan]) -> int:
        archived = {row["PartitionKey"] for row in self.archive_rows}
        return sum(1 for p in plans if p.request_id in archived)


@dataclass(eq=False)
class CrashRun:
    """``CrashRun(azurite, arm, seed=..., requests=...).run()`` → a :class:`CrashResult`."""

    azurite: Azurite
    arm: ArmEmulator
    _: KW_ONLY
    seed: int
    requests: InitVar[int]
    hosts: int = 2
    window: int = 10
    invisibility_seconds: int = 3
    points: InitVar[Iterable[str]] = tuple(KILL_POINTS)
    request_timeout: float = 150.0
    stagger: float = 0.4
    log: Callable[[str], None] = print
    app_dir: Path = REPO_ROOT

    def __post_init__(self, requests: int, points: Iterable[str]) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.queue_name = f"crash-{suffix}"
        self.status_table = f"status{suffix}"
        self.archive_table = f"poison{suffix}"
        rng = random.Random(self.seed)
        chosen = list(points)
        kinds = [chosen[i % len(chosen)] for i in range(requests)]
        rng.shuffle(kinds)
        self.plans = [
            Plan(
                request=self._request(i, rng),
                point=kind,
                occurrence=rng.choice((1, 2)) if kind in REPEATED else 1,
            )
            for i, kind in enumerate(kinds)
        ]
        self._by_id = {p.request_id: p for p in self.plans}
        self._by_group = {p.group: p for p in self.plans}
        self._by_operation: dict[str, Plan] = {}
        self._lock = threading.Lock()
        self.instances: list[Instance] = []
        self.unattributed = 0

    @staticmethod
    def _request(index: int, rng: random.Random) -> dict[str, Any]:
        return {
            "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "subscription_id": DEFAULT_SUBSCRIPTION,
            "resource_group": f"rg-crash-{index:04d}-{rng.getrandbits(32):08x}",
            "location": "westeurope",
            "cluster": {"name": "aks-crash", "node_count": 1 + index % 5},
            "tags": {"suite": "crash"},
        }

    # -- settings and fleet -------------------------------------------------------------

    def _settings(self, queue_port: int, table_port: int) -> dict[str, str]:
        az = self.azurite
        connection = (
            f"DefaultEndpointsProtocol=http;AccountName={az.account_name};"
            f"AccountKey={az.account_key};BlobEndpoint={az.blob_url};"
            f"QueueEndpoint=http://127.0.0.1:{queue_port}/{az.account_name};"
            f"TableEndpoint=http://127.0.0.1:{table_port}/{az.account_name};"
        )
        return {
            "AzureWebJobsStorage": connection,
            "PROVISIONING_QUEUE_NAME": self.queue_name,
            "STATUS_TABLE_NAME": self.status_table,
            "POISON_ARCHIVE_TABLE_NAME": self.archive_table,
            "ALLOWED_SUBSCRIPTIONS": DEFAULT_SUBSCRIPTION,
            "RG_VISIBILITY_DELAY_SECONDS": "1",
            "CLUSTER_WATCH_DELAY_SECONDS": "1",
            "PROVIDER_REGISTRATION_DELAY_SECONDS": "1",
            # The sweeper runs while hosts are killed: every 3 s, re-arming what is 30 s late.
            "SWEEPER_SCHEDULE": "*/3 * * * * *",
            "SWEEPER_OVERDUE_MINUTES": "0.5",
            **self.arm.env(),
        }

    def _start_fleet(self) -> None:
        for index in range(self.hosts):
            holder: dict[str, Instance] = {}

            def inspect(
                seen: SeenRequest, holder: dict[str, Instance] = holder
            ) -> Action | Refuse | None:
                return self._on_storage(holder["instance"], seen)

            queue_tap = Tap(self.azurite.port("queue"), inspect)
            table_tap = Tap(self.azurite.port("table"), inspect)
            settings = self._settings(queue_tap.port, table_tap.port)

            def make_host(settings: dict[str, str] = settings) -> LocalHost:
                return LocalHost(
                    self.app_dir,
                    settings=settings,
                    receive_invisibility_seconds=self.invisibility_seconds,
                    http_port=None,
                    shutdown_timeout=3,
                )

            instance = Instance(index, make_host, [queue_tap, table_tap])
            holder["instance"] = instance
            self.instances.append(instance)
        starters = [threading.Thread(target=i.start) for i in self.instances]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()

    # -- kill decisions -----------------------------------------------------------------

    def _decide(self, plan: Plan, events: list[str]) -> bool:
        for event in events:
            plan.seen[event] += 1
        if plan.point == "every_delivery":
            if "every_delivery" in events and plan.kills < MAX_DEQUEUE_COUNT:
                plan.kills += 1
                return True
            return False
        if plan.kills == 0 and plan.point in events and plan.seen[plan.point] == plan.occurrence:
            plan.kills += 1
            return True
        return False

    def _on_arm_call(self, call: Call, peer_port: int, headers: Mapping[str, str]) -> None:
        path = call.path.lower()
        group = re.search(r"/resourcegroups/([^/]+)", path)
        operation = re.search(r"/operations/([^/?]+)", path)
        with self._lock:
            plan = None
            if group:
                plan = self._by_group.get(group.group(1))
            elif operation:
                plan = self._by_operation.get(operation.group(1))
            if plan is None:
                return
            events: list[str] = []
            if "/managedclusters/" in path:
                if call.method == "PUT" and call.status == 201:
                    events.append("aks_put")
                    url = {k.lower(): v for k, v in headers.items()}.get("azure-asyncoperation")
                    found = re.search(r"/operations/([^/?]+)", (url or "").lower())
                    if found:
                        self._by_operation[found.group(1)] = plan
                elif call.method == "GET":
                    events.append("watch_check")
            elif group:
                if call.method == "PUT" and call.status in (200, 201):
                    plan.group_put_seen = True
                    events.append("group_put")
                elif call.method == "GET":
                    events.append("every_delivery")
                    if plan.group_put_seen:
                        events.append("check")
            elif call.method == "GET":
                events.append("watch_check")
            fire = self._decide(plan, events)
        if fire:
            self._fire_arm(
                plan, peer_port, f"{plan.point} {plan.request_id} ({call.method} {path})"
            )

    def _fire_arm(self, plan: Plan, peer_port: int, reason: str) -> None:
        """A plan's ARM boundary was reached: here, kill the caller (OutageRun overrides)."""
        self._kill_caller(peer_port, reason)

    def _kill_caller(self, peer_port: int, reason: str) -> None:
        pids = {i.pid: i for i in self.instances if i.pid is not None}
        owner = socket_owner(peer_port, int(self.arm.url.rsplit(":", 1)[1]), pids)
        instance = pids.get(owner) if owner is not None else None
        if instance is None or not instance.crash(reason):
            with self._lock:
                self.unattributed += 1

    def _on_storage(self, instance: Instance, seen: SeenRequest) -> Action | Refuse | None:
        fired = self._storage_boundary(seen)
        if fired is None:
            return None
        event, request_id = fired
        return lambda: self._storage_kill(instance, f"{event} {request_id}")

    def _storage_boundary(self, seen: SeenRequest) -> tuple[str, str] | None:
        """(event, request id) when ``seen`` is a plan's storage boundary that fires now."""
        parts = seen.path.split("/", 2)
        rest = parts[2] if len(parts) == 3 else ""
        request_id: str | None = None
        event = ""
        if seen.method == "POST" and rest == self.status_table:
            with contextlib.suppress(ValueError):
                request_id = json.loads(seen.body).get("PartitionKey")
            event = "status_write"
        elif seen.method in ("PUT", "MERGE") and rest.startswith(self.status_table + "("):
            found = re.search(r"PartitionKey='([^']+)'", rest)
            request_id = found.group(1) if found else None
            event = "status_commit"
        elif seen.method == "POST" and rest == f"{self.queue_name}/messages":
            text = re.search(rb"<MessageText>(.*?)</MessageText>", seen.body, re.S)
            with contextlib.suppress(ValueError):
                chain = json.loads(base64.b64decode(text.group(1))) if text else {}
                request_id = chain.get("request_id") if isinstance(chain, dict) else None
            event = "reenqueue"
        if not request_id:
            return None
        with self._lock:
            plan = self._by_id.get(request_id)
            fire = plan is not None and self._decide(plan, [event])
        return (event, request_id) if fire else None

    def _storage_kill(self, instance: Instance, reason: str) -> None:
        if not instance.crash(reason):
            with self._lock:
                self.unattributed += 1

    # -- the run ------------------------------------------------------------------------

    def run(self) -> CrashResult:
        started = time.monotonic()
        self.log(
            f"crash run: seed={self.seed} requests={len(self.plans)} hosts={self.hosts} "
            f"window={self.window} invisibility={self.invisibility_seconds}s"
        )
        self.arm.set_read_lag(reads=1)  # every group is hidden for one check: a re-enqueue
        # In progress for 1.5 s of wall clock, whoever looks and however often, then done.
        self.arm.set_cluster_create(polls=0, seconds=1.5)
        # Hundreds of clusters in one emulated subscription: quota is not what this run tests
        # (the emulator's default of 1000 vCPUs a family would fail most of them).
        self.arm.set_vcpu_quota("westeurope", "standardDSv5Family", limit=10**7)
        self.arm.on_call(self._on_arm_call)
        conn = self.azurite.connection_string
        queue = QueueClient.from_connection_string(
            conn, self.queue_name, message_encode_policy=TextBase64EncodePolicy()
        )
        queue.create_queue()
        tables = TableServiceClient.from_connection_string(conn)
        status_table = tables.get_table_client(self.status_table)
        archive_table = tables.get_table_client(self.archive_table)
        self._start_fleet()
        try:
            self._drive(queue, status_table, archive_table)
            drained = self._drain(conn, status_table)
            archive = self._rows(archive_table)
            final = {row["PartitionKey"]: row for row in self._rows(status_table)}
        finally:
            for instance in self.instances:
                instance.stop()
        for plan in self.plans:
            plan.status = final.get(plan.request_id)
        calls = self.arm.calls
        return self._judge(calls, archive, final, drained, time.monotonic() - started)

    @staticmethod
    def _rows(table: Any) -> list[dict[str, Any]]:
        try:
            return [
                {**dict(row), "_etag": row.metadata.get("etag")} for row in table.list_entities()
            ]
        except ResourceNotFoundError:  # the app creates its tables on first use
            return []

    def _drive(self, queue: QueueClient, status_table: Any, archive_table: Any) -> None:
        waiting = list(self.plans)
        live: list[Plan] = []
        last_report = time.monotonic()
        while waiting or live:
            if waiting and len(live) < self.window:
                # One at a time, a little apart: a host holds a batch, and a kill takes every
                # message it holds down with it; spacing keeps that collateral realistic.
                plan = waiting.pop(0)
                queue.send_message(json.dumps(plan.request))
                plan.sent_at = time.monotonic()
                live.append(plan)
            time.sleep(self.stagger)
            rows = {row["PartitionKey"]: row for row in self._rows(status_table)}
            archived = {row["PartitionKey"] for row in self._rows(archive_table)}
            now = time.monotonic()
            for plan in list(live):
                row = rows.get(plan.request_id)
                terminal = row is not None and row.get("phase") in TERMINAL
                if terminal:
                    assert row is not None
                    plan.terminal_at = time.time()
                    plan.terminal_etag = row["_etag"]
                    live.remove(plan)
                elif now - plan.sent_at > self.request_timeout:
                    self.log(
                        f"request {plan.request_id} ({plan.point}) timed out; archived="
                        + str(plan.request_id in archived)
                    )
                    live.remove(plan)
            if now - last_report > 15:
                last_report = now
                done = len(self.plans) - len(waiting) - len(live)
                kills = sum(i.kills for i in self.instances)
                self.log(f"  {done}/{len(self.plans)} done, {len(live)} live, {kills} kills")

    def _drain(self, connection: str, status_table: Any, timeout: float = 60.0) -> bool:
        """Until the queue and its poison queue stay empty (no fork left running)."""
        queues = [
            QueueClient.from_connection_string(connection, name)
            for name in (self.queue_name, f"{self.queue_name}-poison")
        ]
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            counts = []
            for client in queues:
                try:
                    counts.append(client.get_queue_properties().approximate_message_count or 0)
                except ResourceNotFoundError:  # a queue nobody has created yet holds nothing
                    counts.append(0)
            quiet = quiet + 1 if not any(counts) else 0
            if quiet >= 3:
                return True
            time.sleep(1)
        return False

    def _judge(
        self,
        calls: list[Call],
        archive: list[dict[str, Any]],
        final: dict[str, dict[str, Any]],
        drained: bool,
        seconds: float,
    ) -> CrashResult:
        violations: list[str] = []
        forks: list[str] = []
        archived = {row["PartitionKey"] for row in archive}
        creates: Counter[str] = Counter()
        late: Counter[str] = Counter()
        by_group: dict[str, list[Call]] = {}
        for call in calls:
            found = re.search(r"/resourcegroups/([^/]+)", call.path.lower())
            if found:
                by_group.setdefault(found.group(1), []).append(call)
        for plan in self.plans:
            status = final.get(plan.request_id)
            phase = status.get("phase") if status else None
            if phase not in TERMINAL:
                where = "archived" if plan.request_id in archived else "LOST"
                violations.append(f"{plan.request_id} ({plan.point}) ended {phase} ({where})")
            elif phase == "failed":
                error = json.loads((status or {}).get("error") or "{}")
                if not error.get("code") or not error.get("message"):
                    violations.append(f"{plan.request_id} failed without a reason: {error}")
            group_calls = by_group.get(plan.group, [])
            creates[plan.request_id] = sum(
                1
                for c in group_calls
                if c.method == "PUT" and c.status == 201 and "/managedclusters/" in c.path.lower()
            )
            if creates[plan.request_id] > 1:
                violations.append(
                    f"{plan.request_id} ({plan.point}): {creates[plan.request_id]} AKS creates"
                )
            if phase == "succeeded" and creates[plan.request_id] != 1:
                violations.append(f"{plan.request_id} succeeded with no AKS create")
            if plan.terminal_at is not None:
                # A surviving fork would keep calling ARM after the end, or rewrite the record.
                after = [c for c in group_calls if c.time > plan.terminal_at + 2.0]
                late[plan.request_id] = len(after)
                if after:
                    forks.append(f"{plan.request_id}: {len(after)} ARM calls after the end")
                if status is not None and status["_etag"] != plan.terminal_etag:
                    forks.append(f"{plan.request_id}: status rewritten after the end")
        if not drained:
            forks.append("the queue did not drain: messages still circulate after every end")
        violations += forks
        outputs = [i.host.output for i in self.instances]
        poisonings = sum(
            out.count(f"Moving message to queue '{self.queue_name}-poison'") for out in outputs
        )
        return CrashResult(
            seed=self.seed,
            hosts=self.hosts,
            plans=self.plans,
            instances_kills=sum(i.kills for i in self.instances),
            restarts=sum(i.restarts for i in self.instances),
            seconds=seconds,
            host_poisonings=poisonings,
            archive_rows=archive,
            duplicates={k: v for k, v in creates.items() if v > 1},
            creates=dict(creates),
            forks=forks,
            violations=violations,
            outputs=outputs,
        )


def figures_rows(result: CrashResult, label: str) -> list[dict[str, Any]]:
    """One report row per kill point, and one for the whole run."""
    rows = []
    for point, plans in result.by_point().items():
        rows.append(
            {
                "section": "Crash injection",
                "scenario": f"{label}: SIGKILL {KILL_POINTS[point]}",
                "requests": len(plans),
                "kills": sum(p.kills for p in plans),
                "messages": len(plans),
                "lost": result.lost(plans),
                "duplicate_creates": sum(result.duplicates.get(p.request_id, 1) - 1 for p in plans),
                "false_failures": result.false_failures(plans),
                "stranded": result.stranded(plans),
                "outcome": result.outcome(plans)
                + (f"; {result.archived(plans)} archived" if result.archived(plans) else ""),
                "extra": {"point": point, "seed": result.seed},
            }
        )
    plans = result.plans
    rows.append(
        {
            "section": "Crash injection",
            "scenario": f"{label}: whole run, {result.hosts} hosts on one queue, seed "
            f"{result.seed}",
            "requests": len(plans),
            "kills": result.instances_kills,
            "messages": len(plans),
            "lost": result.lost(plans),
            "duplicate_creates": sum(n - 1 for n in result.duplicates.values()),
            "false_failures": result.false_failures(plans),
            "stranded": result.stranded(plans),
            "outcome": f"{result.outcome(plans)}; {result.host_poisonings} poisoned unread by "
            f"the host; forks surviving: {len(result.forks)}; {result.seconds:.0f} s",
            "extra": {"seed": result.seed, "seconds": round(result.seconds, 1)},
        }
    )
    return rows
