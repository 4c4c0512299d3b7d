"""The function's own overhead per invocation, before and after the optimisation, and a profile.

Own overhead = an invocation's wall time minus the time inside its HTTP round trips (measured in
the host process by ``bench.hostwrap``). "Before" is the app as it was before commit
``OPTIMISATION_COMMIT`` (its parent's ``provisioning/runtime.py`` over today's other files), so
the two differ only by that change.
"""

from __future__ import annotations

import contextlib
import io
import os
import pstats
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import run as bench_run
from bench.run import SCENARIOS, CellResult, Stack
from localazure.entra import EntraStandIn, user_principal
from provisioning.bearer import token_validator
from provisioning.identity import ROLE_REQUEST
from provisioning.settings import Settings

# provisioning/runtime.py: build the runtime once even when the first batch starts together.
OPTIMISATION_COMMIT = "d7348cf"
APP_FILES = ("function_app.py", "host.json", "provisioning")


@dataclass
class Variant:
    name: str
    result: CellResult
    http_calls_per_request: float


def before_app(work: Path) -> Path | None:
    """A copy of the app with runtime.py as it was before the optimisation (None without git)."""
    old = bench_run.git("show", f"{OPTIMISATION_COMMIT}^:provisioning/runtime.py")
    if old is None:
        return None
    app = Path(tempfile.mkdtemp(prefix="app-before-", dir=work))
    for name in APP_FILES:
        source = bench_run.REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, app / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, app / name)
    (app / "provisioning" / "runtime.py").write_bytes(old)
    return app


def measure(stack: Stack, n: int, app_dir: Path | None, name: str) -> Variant:
    """A burst of ``n`` requests into a cold host (visible group, 1 s watch, instant AKS)."""
    result, stats = bench_run.run_queue(
        stack,
        SCENARIOS["first"],
        n,
        timeout=120,
        extra_settings={"CLUSTER_WATCH_DELAY_SECONDS": "1"},
        app_dir=app_dir,
        aks_seconds=0.0,
    )
    provision = [i for i in stats["invocations"] if i["function"] == "provision"]
    calls = sum(i["http_calls"] for i in provision) / n
    return Variant(name, result, calls)


def profile(stack: Stack, n: int, out: Path) -> str:
    """cProfile of ``n`` requests run one invocation at a time (one pool thread), so that
    wall time in the profile is the invocation's own and not time waiting for the GIL."""
    result, _ = bench_run.run_queue(
        stack,
        SCENARIOS["first"],
        n,
        timeout=120,
        extra_settings={"CLUSTER_WATCH_DELAY_SECONDS": "1", "PYTHON_THREADPOOL_THREAD_COUNT": "1"},
        profile=out,
        aks_seconds=0.0,
    )
    stream = io.StringIO()
    stats = pstats.Stats(str(out), stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(15)
    return f"{result.n} requests, {result.invocations_per_request or 0:.0f} invocations each\n" + (
        stream.getvalue()
    )


# ---- the front door's token validation (issue 12) --------------------------------------------


@dataclass
class TokenCost:
    """The app's own bearer-token check, in process, against the Entra stand-in over HTTPS."""

    calls: int
    first_call_ms: float  # includes reading the OpenID metadata and the JWKS
    p50_ms: float  # the calls after the first
    p99_ms: float
    key_fetches_first: int  # JWKS fetches by the first call
    key_fetches_after: int  # JWKS fetches by all the other calls: 0 when keys are cached


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def token_validation(calls: int = 2000) -> TokenCost:
    """``calls`` distinct tokens through the production validator (``bearer.token_validator``,
    built from the settings as the app builds it), each timed alone."""
    with EntraStandIn() as entra:
        settings = Settings.from_env(entra.env())
        tokens = [
            entra.token(user_principal(f"user{i}@contoso.example"), roles=[ROLE_REQUEST])
            for i in range(calls)
        ]
        with _env({"REQUESTS_CA_BUNDLE": str(entra.ca_pem)}):
            validator = token_validator(settings)
            assert validator is not None
            started = time.perf_counter()
            validator.validate(f"Bearer {tokens[0]}")
            first_ms = (time.perf_counter() - started) * 1000
            fetched = entra.key_fetches()
            times = []
            for token in tokens[1:]:
                started = time.perf_counter()
                validator.validate(f"Bearer {token}")
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        return TokenCost(
            calls=calls,
            first_call_ms=first_ms,
            p50_ms=statistics.median(times),
            p99_ms=times[min(len(times) - 1, int(len(times) * 0.99))],
            key_fetches_first=fetched,
            key_fetches_after=entra.key_fetches() - fetched,
        )


def main() -> None:
    """``python -m bench.overhead``: the token-validation figures alone (a few seconds)."""
    from bench.report import token_table

    print(token_table(token_validation()))


if __name__ == "__main__":
    main()
