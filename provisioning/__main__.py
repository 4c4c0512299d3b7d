"""``python -m provisioning submit FILE``, ``redrive REQUEST_ID`` and ``preflight``.

Settings come from the environment, or from a ``local.settings.json`` given with ``--settings``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from provisioning.client import redrive, submit
from provisioning.errors import InvalidRequest


def _env(settings_file: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if settings_file:
        values = json.loads(Path(settings_file).read_text(encoding="utf-8")).get("Values", {})
        env = {**{k: str(v) for k, v in values.items()}, **env}
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioning")
    parser.add_argument("--settings", help="a local.settings.json whose Values to use")
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("submit", help="validate a request (JSON file or -) and enqueue it")
    send.add_argument("file")
    again = commands.add_parser("redrive", help="re-drive a failed request as a new run")
    again.add_argument("request_id", nargs="+")
    commands.add_parser(
        "preflight", help="read-only checks of a subscription and storage before the first request"
    )
    args = parser.parse_args(argv)
    env = _env(args.settings)
    if args.command == "preflight":
        return _preflight(env)
    if args.command == "submit":
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        try:
            print(submit(json.loads(text), env=env))
        except InvalidRequest as exc:
            print(exc.info.message, file=sys.stderr)
            return 2
        return 0
    for request_id in args.request_id:
        print(redrive(request_id.lower(), env=env))
    return 0


def _preflight(env: dict[str, str]) -> int:
    # Imported here: submit and redrive need neither the ARM SDKs nor azure-identity's ARM side.
    from provisioning.preflight import exit_code, render
    from provisioning.preflight_probe import run_preflight

    # As app settings are for the Functions host: the credential reads its settings
    # (AZURE_CLIENT_ID, IDENTITY_ENDPOINT, ...) from the process environment.
    os.environ.update(env)
    checks = run_preflight(env)
    print(render(checks))
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
