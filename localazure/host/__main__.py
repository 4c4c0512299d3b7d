"""``python -m localazure.host``: a stand-in for ``func start`` (queue and HTTP triggers).

Prints one ready line on stdout once every listener runs and the HTTP port is bound::

    localazure.host ready http_port=7071 pid=12345 functions=main,poison,items

(``http_port=none`` when the app has no HTTP functions or ``--http-port -1`` was given.) Logs,
including the functions' own ``logging`` lines, go to stderr. SIGTERM or Ctrl-C stops polling and
waits for running functions.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from localazure.host.config import (
    READY_PREFIX,
    RECEIVE_INVISIBILITY_SECONDS,
    HostConfigError,
    load_host_start_settings,
)
from localazure.host.cors import CorsPolicy
from localazure.host.runtime import FunctionHost

RESTART_PAUSE_SECONDS = 1.0


def configure_logging(level: str) -> None:
    """Function and host log lines on stderr, as the Portal's log stream shows them."""
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # The SDK logs every HTTP request at INFO; the host does not show those.
    for noisy in ("azure", "werkzeug", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localazure.host",
        description="Run a v2-model Python function app's queue and HTTP triggers locally, "
        "with the Functions host's queue semantics (a stand-in for `func start`).",
    )
    parser.add_argument("--app-dir", type=Path, default=Path.cwd(), help="default: the cwd")
    parser.add_argument(
        "--http-port",
        type=int,
        default=7071,
        help="port for /api/... (0: any free port, -1: no HTTP server; default 7071)",
    )
    parser.add_argument("--http-host", default="127.0.0.1")
    parser.add_argument(
        "--receive-invisibility-seconds",
        type=int,
        default=RECEIVE_INVISIBILITY_SECONDS,
        help="invisibility of received messages (the host hard-codes 600); for crash tests",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for running functions on SIGTERM",
    )
    parser.add_argument(
        "--cors",
        default=None,
        help="comma-separated allowed origins, as func start's --cors "
        "(default: Host.CORS of local.settings.json)",
    )
    parser.add_argument(
        "--cors-credentials",
        action="store_true",
        default=None,
        help="allow credentials (default: Host.CORSCredentials of local.settings.json)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        defaults = load_host_start_settings(args.app_dir.resolve())
        cors = CorsPolicy.parse(
            defaults.cors if args.cors is None else args.cors,
            defaults.cors_credentials if args.cors_credentials is None else args.cors_credentials,
        )
        host = FunctionHost(
            args.app_dir,
            receive_invisibility_seconds=args.receive_invisibility_seconds,
            http_port=None if args.http_port < 0 else args.http_port,
            http_host=args.http_host,
            cors=cors,
        ).start()
    except HostConfigError as exc:
        print(f"localazure.host error: {exc}", file=sys.stderr, flush=True)
        return 2
    assert host.index is not None
    functions = host.index.queue_functions + host.index.http_functions
    names = [f.name for f in functions] + [f.name for f in host.index.timer_functions]
    port = "none" if host.http_port is None else str(host.http_port)
    print(
        f"{READY_PREFIX} http_port={port} pid={os.getpid()} functions={','.join(names)}",
        flush=True,
    )
    # SIGUSR1: the language worker dies (LocalHost.kill_worker); the host carries on.
    signal.signal(signal.SIGUSR1, lambda *_: host.kill_worker())
    try:
        while not stop.wait(0.1):
            if host.failed.is_set():
                # As in Azure, where the platform starts the stopped host again (a crash loop
                # if the cause persists); the pause keeps a persistent cause from spinning.
                time.sleep(RESTART_PAUSE_SECONDS)
                host.restart(args.shutdown_timeout)
    finally:
        logging.getLogger("localazure.host").info("Stopping the host")
        host.stop(args.shutdown_timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
