"""``python -m localazure.arm``: run the emulator standalone for the demo.

It prints the environment to export, then serves until interrupted. Scenarios can be set by
flags here or at run time through ``POST /_admin/scenario``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from localazure.arm.server import ArmEmulator
from localazure.arm.store import DEFAULT_SUBSCRIPTION
from localazure.processes import serve_until_stopped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localazure.arm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port for ARM (0: free port)")
    parser.add_argument("--identity-port", type=int, default=0, help="HTTP port for /msi/token")
    parser.add_argument("--identity-header", default=None, help="IDENTITY_HEADER secret")
    parser.add_argument("--cert-dir", type=Path, default=None, help="where to write ca.pem etc.")
    scenario = parser.add_argument_group("scenario")
    scenario.add_argument(
        "--rg-hidden-reads",
        type=int,
        default=0,
        help="GET/HEAD calls after a group's create that answer 404",
    )
    scenario.add_argument(
        "--rg-hidden-seconds",
        type=float,
        default=0.0,
        help="seconds after a group's create during which reads answer 404",
    )
    scenario.add_argument(
        "--aks-hidden-puts",
        type=int,
        default=0,
        help="AKS PUTs into a new group that fail with ResourceGroupNotFound",
    )
    scenario.add_argument("--aks-hidden-mode", choices=["immediate", "async"], default="immediate")
    scenario.add_argument(
        "--cluster-create-polls",
        type=int,
        default=1,
        help="operation polls answering InProgress before the outcome",
    )
    scenario.add_argument("--cluster-create-seconds", type=float, default=0.0)
    scenario.add_argument(
        "--cluster-fail",
        metavar="CODE",
        default=None,
        help="make cluster operations fail with this error code",
    )
    scenario.add_argument("--cluster-fail-message", default="Reconcile managed cluster failed.")
    scenario.add_argument("--rg-delete-polls", type=int, default=1)
    scenario.add_argument("--rg-delete-seconds", type=float, default=0.0)
    scenario.add_argument(
        "--unregistered",
        metavar="SUB",
        action="append",
        default=[],
        help="subscription where Microsoft.ContainerService is not registered",
    )
    scenario.add_argument("--registration-polls", type=int, default=1)
    scenario.add_argument("--registration-seconds", type=float, default=0.0)
    scenario.add_argument(
        "--retry-after",
        type=int,
        default=1,
        help="Retry-After seconds on the emulator's async answers",
    )
    scenario.add_argument(
        "--throttle",
        action="store_true",
        help="ARM's token buckets per subscription (250 reads, 200 writes, 200 deletes)",
    )
    return parser


def apply_flags(emulator: ArmEmulator, args: argparse.Namespace) -> None:
    emulator.set_read_lag(reads=args.rg_hidden_reads, seconds=args.rg_hidden_seconds)
    emulator.set_aks_lag(failures=args.aks_hidden_puts, mode=args.aks_hidden_mode)
    emulator.set_group_delete(polls=args.rg_delete_polls, seconds=args.rg_delete_seconds)
    if args.cluster_fail:
        emulator.set_cluster_create(
            polls=args.cluster_create_polls,
            seconds=args.cluster_create_seconds,
            outcome="Failed",
            error_code=args.cluster_fail,
            error_message=args.cluster_fail_message,
        )
    else:
        emulator.set_cluster_create(
            polls=args.cluster_create_polls, seconds=args.cluster_create_seconds
        )
    if args.throttle:
        emulator.set_throttling()
    for subscription in args.unregistered:
        emulator.set_unregistered(
            subscription, polls=args.registration_polls, seconds=args.registration_seconds
        )
    emulator.set_retry_after(args.retry_after)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    emulator = ArmEmulator(
        cert_dir=args.cert_dir,
        host=args.host,
        port=args.port,
        identity_port=args.identity_port,
        identity_secret=args.identity_header,
    )
    emulator.start()
    apply_flags(emulator, args)
    for name, value in emulator.env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"# default subscription: {DEFAULT_SUBSCRIPTION}", file=sys.stderr)
    print(
        f"# admin: {emulator.url}/_admin/scenario | /_admin/calls | /_admin/reset", file=sys.stderr
    )
    serve_until_stopped(emulator)
    return 0
