"""Timer-triggered functions on their NCRONTAB schedule, as the host's timer extension runs them.

One thread per function computes the next occurrence (``croniter``, seconds first as NCRONTAB
writes them), waits for it, and runs the function on the host's worker with a
``TimerRequest``. An occurrence that comes while the previous run is still going is skipped (the
host does not overlap runs of one timer function). Unlike the host, several local host processes
do not share a singleton lock: each runs its own timers, so a timer function must be safe to run
concurrently (the app's sweeper is: every write it makes is ETag-conditional).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest
from croniter import croniter

from localazure.host.app import TimerFunction
from localazure.host.worker import Worker


class TimerRunner:
    def __init__(self, function: TimerFunction, worker: Worker) -> None:
        self.function = function
        self._worker = worker
        self._log = logging.getLogger(f"Function.{function.name}")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"timer-{function.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        schedule = croniter(self.function.schedule, datetime.now(UTC), second_at_beginning=True)
        if self.function.run_on_startup:
            self._run(past_due=False)
        while not self._stop.is_set():
            due: datetime = schedule.get_next(datetime)
            wait = (due - datetime.now(UTC)).total_seconds()
            if wait > 0 and self._stop.wait(wait):
                return
            self._run(past_due=wait < -1)

    def _run(self, *, past_due: bool) -> None:
        invocation_id = str(uuid.uuid4())
        self._log.info(
            "Executing 'Functions.%s' (Reason='Timer fired at %s', Id=%s)",
            self.function.name,
            datetime.now(UTC).isoformat(),
            invocation_id,
        )
        request = TimerRequest(past_due=past_due)
        function = self.function
        future = self._worker.invoke(
            function.name,
            invocation_id,
            lambda runner: runner.call(function.user_function, {function.parameter: request}),
        )
        error = future.exception()
        if error is None:
            self._log.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s)", self.function.name, invocation_id
            )
        else:
            self._log.error(
                "Executed 'Functions.%s' (Failed, Id=%s)",
                self.function.name,
                invocation_id,
                exc_info=error,
            )
