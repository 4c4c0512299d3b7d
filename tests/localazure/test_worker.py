"""The local host's Worker on its own: invocations, a kill, a timeout (real threads, no storage)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from localazure.host.app import CoroutineRunner
from localazure.host.worker import FunctionTimeoutError, Worker, WorkerProcessExited


def _spin(stop_after: float, reached: threading.Event) -> None:
    until = time.monotonic() + stop_after
    while time.monotonic() < until:
        time.sleep(0.01)
    reached.set()  # only if the thread was not stopped on the way


def test_invocations_return_and_raise() -> None:
    """A result or an exception of the function reaches the host's future unchanged."""
    worker = Worker(2, None)
    try:
        assert worker.invoke("f", "1", lambda runner: 42).result(5) == 42
        failing = worker.invoke("f", "2", lambda runner: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            failing.result(5)
    finally:
        worker.close()


def test_kill_fails_every_in_flight_invocation_and_stops_their_threads() -> None:
    """Both running invocations fail at once; their code does not run on; the worker serves on."""
    worker = Worker(4, None)
    reached = [threading.Event(), threading.Event()]
    started = threading.Barrier(3)

    def run(event: threading.Event) -> Callable[[CoroutineRunner], None]:
        def call(runner: CoroutineRunner) -> None:
            started.wait(5)
            _spin(30, event)

        return call

    try:
        futures = [worker.invoke("f", str(i), run(e)) for i, e in enumerate(reached)]
        started.wait(5)
        assert worker.kill("test") == 2
        for future in futures:
            with pytest.raises(WorkerProcessExited):
                future.result(1)
        time.sleep(0.3)
        assert not any(e.is_set() for e in reached)
        assert worker.restarts == 1
        assert worker.invoke("f", "3", lambda runner: "fresh").result(5) == "fresh"
    finally:
        worker.close()


def test_function_timeout_restarts_the_worker() -> None:
    """Past functionTimeout the late invocation fails with a timeout, its neighbour with it."""
    worker = Worker(4, 0.5)
    neighbour_reached = threading.Event()
    try:
        late = worker.invoke("slow", "late", lambda runner: _spin(30, threading.Event()))
        time.sleep(0.2)
        neighbour = worker.invoke("other", "n", lambda runner: _spin(30, neighbour_reached))
        with pytest.raises(FunctionTimeoutError, match=r"Functions\.slow"):
            late.result(10)
        with pytest.raises(WorkerProcessExited):
            neighbour.result(5)
        assert not neighbour_reached.is_set()
        assert worker.restarts >= 1
    finally:
        worker.close()
