"""``python -m bench.hostwrap``: the local queue host with the benchmark's timers around it.

Runs ``localazure.host`` unchanged, after wrapping three things in this (the host's) process:

- ``QueueListener._call``, which builds the callable the worker runs on its thread pool: the
  callable's wall time, its thread CPU time and the HTTP time spent inside it are recorded per
  invocation, on the pool thread (the host's ``Duration=`` also counts the wait for a free pool
  thread, so it is not used);
- azure-core's ``RequestsTransport.send`` and urllib3's body reads (streamed answers are read
  after ``send`` returns): time and count per thread, so an invocation's HTTP round trips are
  known (every SDK client here, ARM and storage, sends through it), and every send from a
  ``poll-*`` thread (the listeners' queue polling) is kept with its time;
- the ``provisioning`` logger: each status write's line (request id and phase) with its time.

Nothing of this is imported by the app. At exit it writes JSON to ``$BENCH_STATS_FILE``; with
``$BENCH_PROFILE`` set, it also profiles every invocation with cProfile (per thread) and writes
the merged stats there.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import pstats
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import urllib3.response
from azure.core.pipeline.transport import RequestsTransport

from localazure.host import __main__ as host_main
from localazure.host.listener import QueueListener

_local = threading.local()
_lock = threading.Lock()
_invocations: list[dict[str, Any]] = []
_polls: list[tuple[float, str]] = []
_phases: list[tuple[float, str, str]] = []
_profiles: list[cProfile.Profile] = []
_PROFILE = os.environ.get("BENCH_PROFILE")

_original_send = RequestsTransport.send
_original_call = QueueListener._call
_original_read = urllib3.response.HTTPResponse.read
_original_read_chunked = urllib3.response.HTTPResponse.read_chunked


def _timed(function: Callable[..., Any]) -> Callable[..., Any]:
    """Adds the time spent in ``function`` to the invocation's HTTP time (outermost call only)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "inside", False):
            return function(*args, **kwargs)
        _local.inside = True
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _local.inside = False
            acc: list[float] | None = getattr(_local, "acc", None)
            if acc is not None:
                acc[0] += time.perf_counter() - started
                if function is _original_send:
                    acc[1] += 1

    return timed


_timed_send = _timed(_original_send)


def _send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
    name = threading.current_thread().name
    if name.startswith("poll-"):
        with _lock:
            _polls.append((time.time(), name[len("poll-") :]))
    by_target: dict[str, float] | None = getattr(_local, "by_target", None)
    if by_target is None:
        return _timed_send(self, request, **kwargs)
    started = time.perf_counter()
    try:
        return _timed_send(self, request, **kwargs)
    finally:
        # Which service the time went to (ARM, identity endpoint, Azurite's queue or table).
        target = urlsplit(request.url).netloc
        by_target[target] = by_target.get(target, 0.0) + time.perf_counter() - started


def _call(self: QueueListener, trigger: Any) -> Callable[[Any], Any]:
    """The listener hands the worker a callable; time it where it runs, on the pool thread."""
    run = _original_call(self, trigger)
    name = self.function.name

    def timed(runner: Any) -> Any:
        _local.acc = acc = [0.0, 0.0]
        by_target: dict[str, float] = {}
        _local.by_target = by_target
        profile = cProfile.Profile() if _PROFILE else None
        started_at = time.time()
        started, cpu = time.perf_counter(), time.thread_time()
        if profile is not None:
            profile.enable()
        try:
            return run(runner)
        finally:
            if profile is not None:
                profile.disable()
            wall = time.perf_counter() - started
            record = {
                "function": name,
                "start": started_at,
                "wall": wall,
                "cpu": time.thread_time() - cpu,
                "http": acc[0],
                "http_calls": int(acc[1]),
                "http_send_by_target": by_target,
            }
            _local.acc = None
            _local.by_target = None
            with _lock:
                _invocations.append(record)
                if profile is not None:
                    _profiles.append(profile)

    return timed


class _PhaseLog(logging.Handler):
    """Keeps the time of every ``request <id> [<phase>, ...]`` line the step logs."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) >= 2
            and str(record.msg).startswith("request %s [%s")
        ):
            with _lock:
                _phases.append((record.created, str(args[0]), str(args[1])))


def _dump() -> None:
    path = os.environ.get("BENCH_STATS_FILE")
    if not path:
        return
    with _lock:
        document = {
            "pid": os.getpid(),
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "invocations": list(_invocations),
            "polls": list(_polls),
            "phases": list(_phases),
        }
        profiles = list(_profiles)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    if _PROFILE and profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(_PROFILE)


def main(argv: list[str] | None = None) -> int:
    RequestsTransport.send = _send
    QueueListener._call = _call  # type: ignore[method-assign]
    # Streamed answers are read after send() returns: that reading is HTTP time too.
    urllib3.response.HTTPResponse.read = _timed(_original_read)  # type: ignore[method-assign]
    urllib3.response.HTTPResponse.read_chunked = _timed(_original_read_chunked)  # type: ignore[method-assign]
    logging.getLogger("provisioning").addHandler(_PhaseLog())
    try:
        return host_main.main(argv)
    finally:
        _dump()


if __name__ == "__main__":
    sys.exit(main())
