"""What the stand-ins share: the repository root, dying with their parent, start/stop as `with`,
and a child process's state."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_T = TypeVar("_T")


def die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """In the child before exec: new process group, and SIGTERM when the parent dies (Linux)."""
    os.setpgrp()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class StartStop:
    """``with`` for a stand-in: ``start()`` on entry, ``stop()`` on exit, whatever happened."""

    # How the "not running" error names the stand-in.
    _display_name: ClassVar[str] = "the stand-in"

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _started(self, value: _T | None) -> _T:
        """``value``, which ``start()`` makes; before that, one clear error instead of None."""
        if value is None:
            raise RuntimeError(f"{self._display_name} is not running; call start() first")
        return value


class ChildProcess(StartStop):
    """A stand-in that runs as one child process, held in ``_proc`` while it runs."""

    _proc: subprocess.Popen[Any] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None


def serve_until_stopped(standin: StartStop) -> None:
    """Block until SIGTERM or Ctrl-C, then stop ``standin`` (the stand-ins' command lines)."""
    sys.stdout.flush()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
