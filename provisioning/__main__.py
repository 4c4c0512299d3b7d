"""``python -m provisioning submit FILE`` and ``python -m provisioning redrive REQUEST_ID``.

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
    args = parser.parse_args(argv)
    env = _env(args.settings)
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


if __name__ == "__main__":
    sys.exit(main())
