"""Figures for docs/reliability.md: tests record what they measured; `make crash` renders them.

Recording is off unless ``RELIABILITY_RECORD`` names a directory: then every ``figures.record``
writes one JSON file there, and ``python -m tests.crash.report <dir> docs/reliability.md``
turns the files of that run into the report's table.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

RECORD_ENV = "RELIABILITY_RECORD"


@dataclass
class Figures:
    """One row of the report: what a scenario tried, and what came of it."""

    section: str
    scenario: str
    requests: int = 0
    kills: int = 0
    faults: int = 0
    messages: int = 0
    # Counted by the run, or None where the scenario cannot measure it (shown as "n/a").
    lost: int | None = None
    duplicate_creates: int | None = None
    false_failures: int | None = None
    stranded: int | None = None
    outcome: str = ""
    test: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def counted_outcome(
    status: dict[str, Any] | None, *, archived: bool, creates: int, expected: str
) -> dict[str, Any]:
    """The four figures of one request, from what the run saw at its end.

    ``status`` is the request's last status (None: never readable), ``archived`` whether the
    poison archive holds a body of it, ``creates`` the AKS PUTs ARM answered 201 for its cluster,
    and ``expected`` the phase the scenario should end in.
    """
    phase = (status or {}).get("phase")
    terminal = phase in ("succeeded", "failed")
    return {
        "lost": int(not terminal and not archived),
        "duplicate_creates": max(creates - 1, 0),
        "false_failures": int(phase == "failed" and expected != "failed"),
        "stranded": int(not terminal),
    }


class FigureLog:
    """``record(section=..., scenario=..., ...)``: keep a row if recording is on."""

    def __init__(self, test: str, directory: Path | None) -> None:
        self._test = test
        self._directory = directory
        self.rows: list[Figures] = []

    def record(self, **fields: Any) -> Figures:
        row = Figures(test=self._test, **fields)
        self.rows.append(row)
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{self._test}-{len(self.rows)}").strip("-")
            path = self._directory / f"{slug[-150:]}.json"
            path.write_text(json.dumps(asdict(row), indent=2), encoding="utf-8")
        return row


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[FigureLog]:
    """Where a test records its figures for the reliability report."""
    directory = os.environ.get(RECORD_ENV)
    yield FigureLog(request.node.nodeid, Path(directory) if directory else None)
