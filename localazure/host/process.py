"""Run ``python -m localazure.host`` as a child process, the way tests need the Functions host.

A child process (rather than threads in the test process) gives each host its own settings in its
environment, lets several hosts consume one queue at once (scale-out), and can be SIGKILLed for
crash tests and started again.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from localazure.host.config import READY_PREFIX, RECEIVE_INVISIBILITY_SECONDS, WORKER_EXITED
from localazure.processes import REPO_ROOT, ChildProcess, die_with_parent

_READY = re.compile(re.escape(READY_PREFIX) + r" http_port=(\d+|none) pid=(\d+)")


class LocalHostError(RuntimeError):
    """The local host did not become ready, or exited."""


class LocalHost(ChildProcess):
    """A local Functions host for ``app_dir`` in a child process.

    ``settings`` become the child's environment (over the current one unless
    ``inherit_env=False``), exactly as app settings do in Azure. ``http_port=0`` picks a free
    port; ``http_port=None`` serves no HTTP.
    """

    def __init__(
        self,
        app_dir: Path | str,
        *,
        settings: Mapping[str, str] | None = None,
        receive_invisibility_seconds: int = RECEIVE_INVISIBILITY_SECONDS,
        http_port: int | None = 0,
        inherit_env: bool = True,
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
        python: str = sys.executable,
        cors: Sequence[str] = (),
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.settings = dict(settings or {})
        self.receive_invisibility_seconds = receive_invisibility_seconds
        self.http_port_requested = http_port
        self.inherit_env = inherit_env
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self.python = python
        self.cors = tuple(cors)
        self.http_port: int | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._output: list[str] = []
        self._output_lock = threading.Lock()
        self._ready = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def command(self) -> list[str]:
        port = -1 if self.http_port_requested is None else self.http_port_requested
        return [
            self.python,
            "-m",
            "localazure.host",
            "--app-dir",
            str(self.app_dir),
            "--http-port",
            str(port),
            "--receive-invisibility-seconds",
            str(self.receive_invisibility_seconds),
            *(["--cors", ",".join(self.cors)] if self.cors else []),
            "--shutdown-timeout",
            str(self.shutdown_timeout),
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.inherit_env else {"PATH": os.environ.get("PATH", "")}
        env.update(self.settings)
        paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> LocalHost:
        """Start the child and wait for its ready line; raises LocalHostError with its output."""
        if self.running:
            return self
        self._ready.clear()
        self._output.append(f"--- start {' '.join(self.command())}\n")
        started = time.monotonic()
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.app_dir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only async-signal-safe calls
        )
        self._reader = threading.Thread(
            target=self._read_output, args=(self._proc,), name="localhost-output", daemon=True
        )
        self._reader.start()
        deadline = started + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None:
                self._reader.join(timeout=2)
                code = self._proc.returncode
                self._proc = None
                raise LocalHostError(
                    f"the local host exited with code {code} before it was ready:\n{self.output}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise LocalHostError(
                    f"the local host was not ready within {self.startup_timeout:.0f}s:\n"
                    f"{self.output}"
                )
        self.startup_seconds = time.monotonic() - started
        return self

    def _read_output(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._output_lock:
                self._output.append(line)
            match = _READY.match(line)
            if match and not self._ready.is_set():
                port = match.group(1)
                self.http_port = None if port == "none" else int(port)
                self._ready.set()
        proc.stdout.close()

    def request_stop(self) -> None:
        """Send SIGTERM without waiting (to stop several hosts at once); then call stop()."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM (graceful: running functions complete), then SIGKILL after the timeout."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self.request_stop()
            try:
                proc.wait(timeout=self.shutdown_timeout + 5)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        self._finish(proc)

    def kill(self) -> None:
        """SIGKILL the host at once, as a crash would: nothing is completed or released."""
        proc = self._proc
        if proc is None:
            return
        self._signal_group(proc, signal.SIGKILL)
        proc.wait(timeout=5)
        self._finish(proc)

    def kill_worker(self, timeout: float = 10.0) -> None:
        """The language worker dies (SIGUSR1 to the host): every in-flight invocation fails and
        comes back after its visibility timeout; the host process carries on. Waits until the
        host has done it."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            raise LocalHostError("the local host is not running")
        before = self.output.count(WORKER_EXITED)
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while self.output.count(WORKER_EXITED) == before:
            if time.monotonic() > deadline:
                raise LocalHostError(f"the host did not kill its worker:\n{self.output}")
            time.sleep(0.02)

    def _signal_group(self, proc: subprocess.Popen[str], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signum)

    def _finish(self, proc: subprocess.Popen[str]) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self._output.append(f"--- exited with code {proc.returncode}\n")
        self._proc = None
        self.http_port = None

    def restart(self) -> LocalHost:
        self.stop()
        return self.start()

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>`` (routes are under ``/api``)."""
        if self.http_port is None:
            raise LocalHostError("the local host is not running or serves no HTTP")
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def output(self) -> str:
        """Everything the host wrote (stdout and stderr), across restarts."""
        with self._output_lock:
            return "".join(self._output)
