"""``python -m localazure.entra``: serve the Entra stand-in for ``func start`` or a browser.

Prints the app's ``ENTRA_*`` settings and, with ``--user``/``--app``, a token for them (valid
while this process runs: the keys live in memory), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from localazure.certs import make_certificates
from localazure.entra.mint import app_principal, user_principal
from localazure.entra.server import EntraStandIn
from localazure.processes import serve_until_stopped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localazure.entra", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert-dir", type=Path, default=None, help="write/use ca.pem etc. here")
    parser.add_argument("--user", action="append", default=[], help="print a token for USER")
    parser.add_argument("--app", action="append", default=[], help="print a token for an app")
    parser.add_argument("--role", action="append", default=[], help="app role (repeatable)")
    args = parser.parse_args(argv)
    certs = make_certificates(args.cert_dir) if args.cert_dir else None
    standin = EntraStandIn(certs, host=args.host, port=args.port).start()
    for name, value in standin.env().items():
        print(f"export {name}={shlex.quote(value)}")
    print(f"export REQUESTS_CA_BUNDLE={shlex.quote(str(standin.ca_pem))}")
    for username in args.user:
        token = standin.token(user_principal(username), roles=args.role)
        print(f"# token for {username}:\n{token}", file=sys.stderr)
    for name in args.app:
        token = standin.token(app_principal(name), roles=args.role)
        print(f"# token for app {name}:\n{token}", file=sys.stderr)
    serve_until_stopped(standin)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
