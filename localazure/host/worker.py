"""The Python language worker as the host sees it: it runs invocations, and it can die.

In Azure the worker is a process of its own. When it exits (out of memory, a crash) or the host
restarts it after a ``functionTimeout``, the host fails every invocation that worker was running;
the host itself carries on and starts a new worker. Here the worker is a generation of threads in
the host's process: ``kill()`` fails every in-flight invocation at once, starts a new thread pool
and event loop, and stops the old generation's threads with an asynchronous exception, so that
their code does not run on after the "crash" (a thread blocked in a system call stops when the
call returns; its result is discarded either way).
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localazure.host.app import CoroutineRunner

log = logging.getLogger("localazure.host")


class WorkerKilled(BaseException):
    """Raised inside a dead worker's threads; a BaseException so ``except Exception`` lets it by."""


class WorkerProcessExited(Exception):
    """The invocation failed because its worker died (killed, crashed, or restarted)."""


class FunctionTimeoutError(WorkerProcessExited):
    """The invocation ran past ``functionTimeout``; the host restarted its worker."""


@dataclass
class _Invocation:
    name: str
    invocation_id: str
    future: Future[Any]
    deadline: float | None
    thread: int | None = None


@dataclass
class _Generation:
    pool: ThreadPoolExecutor
    runner: CoroutineRunner
    running: dict[str, _Invocation] = field(default_factory=dict)


def _timespan(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class Worker:
    """Runs invocations on a thread pool (sync functions) and one event loop (async ones)."""

    def __init__(self, pool_size: int, function_timeout: float | None) -> None:
        self.pool_size = pool_size
        self.function_timeout = function_timeout
        self.restarts = 0
        self._lock = threading.Lock()
        self._generation = self._new_generation()
        self._closed = threading.Event()
        self._watchdog: threading.Thread | None = None
        if function_timeout is not None:
            self._watchdog = threading.Thread(
                target=self._watch, name="worker-timeout", daemon=True
            )
            self._watchdog.start()

    def _new_generation(self) -> _Generation:
        pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="function")
        return _Generation(pool, CoroutineRunner())

    def invoke(
        self, name: str, invocation_id: str, call: Callable[[CoroutineRunner], Any]
    ) -> Future[Any]:
        """Start ``call(runner)`` on the worker; the future fails if the worker dies first."""
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        deadline = (
            None if self.function_timeout is None else time.monotonic() + self.function_timeout
        )
        invocation = _Invocation(name, invocation_id, future, deadline)
        with self._lock:
            generation = self._generation
            generation.running[invocation_id] = invocation
        try:
            generation.pool.submit(self._run, generation, invocation, call)
        except RuntimeError as exc:  # the pool was shut down: a kill won the race
            self._settle(generation, invocation, error=WorkerProcessExited(str(exc)))
        return future

    def _run(
        self,
        generation: _Generation,
        invocation: _Invocation,
        call: Callable[[CoroutineRunner], Any],
    ) -> None:
        with self._lock:
            if invocation.invocation_id not in generation.running:
                return  # failed by a kill before it started
            invocation.thread = threading.get_ident()
        try:
            result = call(generation.runner)
        except WorkerKilled:
            return
        except BaseException as exc:
            self._settle(generation, invocation, error=exc)
        else:
            self._settle(generation, invocation, result=result)

    def _settle(
        self,
        generation: _Generation,
        invocation: _Invocation,
        *,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        with self._lock:
            if generation.running.pop(invocation.invocation_id, None) is None:
                return  # a kill already failed it
            invocation.thread = None  # no async exception may target this thread any more
        if error is None:
            invocation.future.set_result(result)
        else:
            invocation.future.set_exception(error)

    def kill(self, reason: str = "the worker process exited", timed_out: str | None = None) -> int:
        """The worker dies: fail its in-flight invocations, start a new one. Returns how many."""
        with self._lock:
            old = self._generation
            self._generation = self._new_generation()
            self.restarts += 1
            dead = list(old.running.values())
            old.running.clear()
            threads = [i.thread for i in dead if i.thread is not None]
            for ident in threads:
                # Under the lock: a thread that settles first clears its ident above.
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(ident), ctypes.py_object(WorkerKilled)
                )
        for invocation in dead:
            error: WorkerProcessExited
            if invocation.invocation_id == timed_out:
                error = FunctionTimeoutError(
                    f"Timeout value of {_timespan(self.function_timeout or 0)} was exceeded by "
                    f"function: Functions.{invocation.name}."
                )
            else:
                error = WorkerProcessExited(f"Invocation cancelled: {reason}")
            invocation.future.set_exception(error)
        old.pool.shutdown(wait=False, cancel_futures=True)
        threading.Thread(target=old.runner.close, name="worker-teardown", daemon=True).start()
        return len(dead)

    def _watch(self) -> None:
        interval = min(0.25, (self.function_timeout or 1) / 4)
        while not self._closed.wait(interval):
            now = time.monotonic()
            with self._lock:
                late = next(
                    (
                        i
                        for i in self._generation.running.values()
                        if i.deadline is not None and i.deadline <= now
                    ),
                    None,
                )
            if late is None:
                continue
            log.error(
                "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
                "Initiating cancellation.",
                _timespan(self.function_timeout or 0),
                late.name,
                late.invocation_id,
            )
            log.warning(
                "A function timeout has occurred. Restarting worker process executing "
                "invocationId '%s'.",
                late.invocation_id,
            )
            self.kill(f"function timeout in invocation {late.invocation_id}", late.invocation_id)
            log.warning("Restart of language worker process(es) completed.")

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            generation = self._generation
        generation.pool.shutdown(wait=False, cancel_futures=True)
        generation.runner.close()
