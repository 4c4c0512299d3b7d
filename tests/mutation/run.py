"""Mutation check of the safety core: each mutation must make at least one fast test fail.

Each mutation is applied to a temporary copy of the tree (the working tree's tracked and
untracked files, with ``node_modules`` linked in for Azurite); the fast tests then run there.
A mutation that no test notices "survives", and the run fails. Run with ``make mutate``.

A mutation whose text is no longer in the code is reported as stale rather than skipped: the
code changed, so this list must change with it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAST_TESTS = ("tests/unit", "tests/integration/test_status_store.py")


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    before: str
    after: str


MUTATIONS = (
    Mutation(
        "StatusStore.replace writes without its ETag condition",
        "provisioning/storage.py",
        "                mode=UpdateMode.REPLACE,\n"
        "                etag=record.etag,\n"
        "                match_condition=MatchConditions.IfNotModified,\n",
        "                mode=UpdateMode.REPLACE,\n",
    ),
    Mutation(
        "the stale-step check of a chain message is removed",
        "provisioning/reconcile.py",
        "if record.step == chain.step and not record.phase.terminal:",
        "if not record.phase.terminal:",
    ),
    Mutation(
        "the conflict check (another payload under a live request_id) is removed",
        "provisioning/reconcile.py",
        "if record.fingerprint != request.fingerprint():",
        "if False:",
    ),
    Mutation(
        "the poison rule's ownership check is removed",
        "provisioning/poison.py",
        "return (chain.chain, chain.run, chain.step) == (record.chain, record.run, record.step)",
        "return True",
    ),
    Mutation(
        "the fingerprint's separators change",
        "provisioning/contract.py",
        'sort_keys=True, separators=(",", ":"), ensure_ascii=False',
        'sort_keys=True, separators=(", ", ": "), ensure_ascii=False',
    ),
)


def _tree_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _copy_tree(target: Path) -> None:
    for name in _tree_files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)
    (target / "node_modules").symlink_to(ROOT / "node_modules")


def _failures(tree: Path) -> tuple[int, str]:
    """How many fast tests fail in ``tree``, and pytest's summary with the first failed tests."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAST_TESTS],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else result.stderr.strip()[-200:]
    failed = re.search(r"(\d+) failed", summary)
    errors = re.search(r"(\d+) error", summary)
    count = int(failed.group(1)) if failed else 0
    count += int(errors.group(1)) if errors else 0
    if result.returncode != 0 and count == 0:
        count = 1  # pytest itself failed (collection, import): the mutation was noticed
    verdicts = ("FAILED ", "ERROR tests")  # pytest's summary lines, not captured log lines
    failing = [line.split(" - ")[0] for line in lines if line.startswith(verdicts)]
    shown = "".join(f"\n    {line}" for line in failing[:3])
    more = f"\n    (+{len(failing) - 3} more)" if len(failing) > 3 else ""
    return count, summary + shown + more


def _run(mutation: Mutation | None) -> tuple[int, str, float]:
    with tempfile.TemporaryDirectory(prefix="mutate-") as temp:
        tree = Path(temp)
        _copy_tree(tree)
        if mutation is not None:
            path = tree / mutation.path
            text = path.read_text()
            if text.count(mutation.before) != 1:
                raise SystemExit(
                    f"stale mutation {mutation.name!r}: its text is not (once) in "
                    f"{mutation.path}; update tests/mutation/run.py with the code"
                )
            path.write_text(text.replace(mutation.before, mutation.after))
        started = time.monotonic()
        failed, summary = _failures(tree)
        return failed, summary, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    failed, summary, seconds = _run(None)
    print(f"unmutated: {summary} ({seconds:.1f} s)")
    if failed:
        print("the unmutated tree must pass first")
        return 1
    survivors = []
    for mutation in MUTATIONS:
        failed, summary, seconds = _run(mutation)
        verdict = "killed" if failed else "SURVIVED"
        print(f"{verdict}: {mutation.name}: {summary} ({seconds:.1f} s)")
        if not failed:
            survivors.append(mutation.name)
    print(f"{len(MUTATIONS) - len(survivors)}/{len(MUTATIONS)} mutations killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main())
