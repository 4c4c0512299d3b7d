"""Every KQL query the project ships: docs/operations.kql (the catalogue), the workbook's and the
alerts'. The workbook and the alerts must use catalogue queries verbatim, so that one file is
what an operator reads, pastes and changes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.infra import bicep

ROOT = bicep.ROOT
CATALOGUE = ROOT / "docs" / "operations.kql"
WORKBOOK = bicep.INFRA / "workbook.json"
ALERTS = bicep.INFRA / "alerts"
_HEADER = re.compile(r"^// ---- (?P<title>.+?) -*$", re.MULTILINE)


def catalogue(text: str | None = None) -> dict[str, str]:
    """title -> query text (with its comments), for every ``// ---- title ----`` section."""
    source = CATALOGUE.read_text(encoding="utf-8") if text is None else text
    headers = list(_HEADER.finditer(source))
    queries = {}
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(source)
        queries[header["title"]] = source[header.end() : end].strip() + "\n"
    return queries


def without_comments(query: str) -> str:
    """The query's KQL lines only: what a workbook item or an alert rule holds."""
    lines = [line for line in query.splitlines() if not line.lstrip().startswith("//")]
    return "\n".join(lines).strip() + "\n"


def workbook_queries(path: Path = WORKBOOK) -> dict[str, str]:
    """title -> query of every query item (type 3) in the workbook's serialized data."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        item["content"]["title"]: item["content"]["query"]
        for item in data["items"]
        if item.get("type") == 3
    }


def alert_queries(directory: Path = ALERTS) -> dict[str, str]:
    """file name -> query of every infra/alerts/*.kql file (app.bicep loads each one)."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.kql"))}


def all_queries() -> dict[str, str]:
    """Every shipped query under a name that says where it is."""
    named = {f"operations.kql: {title}": q for title, q in catalogue().items()}
    named |= {f"workbook.json: {title}": q for title, q in workbook_queries().items()}
    named |= {f"alerts/{name}": q for name, q in alert_queries().items()}
    return named
