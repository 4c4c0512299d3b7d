"""Build the SPA (``spa/``) with esbuild and serve ``spa/dist`` plus its ``config.json``.

Any static host serves the built page (Azure Static Web Apps, a storage static website); here a
loopback server plays that part. ``config.json`` is the page's only configuration: where Entra,
the API and the queue are, never a secret.
"""

from __future__ import annotations

import json
import mimetypes
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from localazure.processes import REPO_ROOT, StartStop
from localazure.serving import QuietHandler, ThreadedServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SPA_DIR = REPO_ROOT / "spa"
DIST = SPA_DIR / "dist"
SOURCES = (SPA_DIR / "src", SPA_DIR / "public", SPA_DIR / "build.mjs", REPO_ROOT / "schemas")


class SpaBuildError(RuntimeError):
    """``node spa/build.mjs`` failed (or node_modules is missing: run ``make deps``)."""


def _newest(paths: Iterable[Path]) -> float:
    stamps = [0.0]
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        stamps.extend(f.stat().st_mtime for f in files if f.is_file())
    return max(stamps)


def build_spa(*, force: bool = False) -> Path:
    """Build ``spa/dist`` unless it is newer than every source; returns the dist directory."""
    index = DIST / "index.html"
    if not force and index.exists() and _newest([DIST]) >= _newest(SOURCES):
        return DIST
    run = subprocess.run(
        ["node", str(SPA_DIR / "build.mjs")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        raise SpaBuildError(f"node spa/build.mjs failed:\n{run.stdout}\n{run.stderr}")
    return DIST


class SpaServer(StartStop):
    """Static files of ``dist`` and ``/config.json`` (``config``, set once the rest of the stack
    is up; 503 until then), over HTTP on loopback.

    The page's origin is ``http://localhost:<port>`` (a secure context, as MSAL needs); the same
    server reached as ``http://127.0.0.1:<port>`` is another origin, for CORS checks.
    """

    _display_name = "the SPA server"

    def __init__(
        self,
        *,
        dist: Path = DIST,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.config: dict[str, Any] | None = None
        self._dist = dist.resolve()
        self._host = host
        self._port = port
        self._server = ThreadedServer(self, name="localazure-spa", handler=QuietHandler)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._answer(Request(environ))(environ, start_response)

    def _answer(self, request: Request) -> Response:
        path = request.path.lstrip("/") or "index.html"
        if path == "config.json":
            if self.config is None:
                return Response("the stack is still starting", status=503, mimetype="text/plain")
            return Response(
                json.dumps(self.config),
                content_type="application/json",
                headers={"Cache-Control": "no-store"},
            )
        file = (self._dist / path).resolve()
        if not file.is_file() or self._dist not in file.parents:
            return Response("not found", status=404, mimetype="text/plain")
        mimetype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or file.suffix == ".js":
            mimetype += "; charset=utf-8"
        return Response(file.read_bytes(), content_type=mimetype)

    def start(self) -> SpaServer:
        self._server.start(self._host, self._port)
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def port(self) -> int:
        return self._started(self._server.port)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def other_origin(self) -> str:
        """The same files from an origin no CORS rule allows."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uris(self) -> list[str]:
        return [f"{origin}/redirect.html" for origin in (self.origin, self.other_origin)]
