"""Syntax gate: every .bicep file under infra/ parses with tree-sitter-bicep, with no ERROR or
MISSING node (a parse that needs no Bicep CLI; tests/infra/test_bicep_types.py checks the types)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra import bicep


def _syntax_problems(source: bytes) -> list[str]:
    tree = bicep.parse(source)
    problems = []
    for node in bicep.walk(tree.root_node):
        if node.is_error or node.is_missing:
            row, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "unparsable text"
            snippet = bicep.text(node).splitlines()[0][:60] if node.text else ""
            problems.append(f"line {row + 1}, column {column + 1}: {kind} {snippet!r}")
    return problems


def test_infra_has_the_entry_point_and_the_app_module() -> None:
    """infra/ holds main.bicep and app.bicep, and no .bicepparam (no offline tool parses it)."""
    names = {path.name for path in bicep.bicep_files()}
    assert {"main.bicep", "app.bicep"} <= names
    assert not list(bicep.INFRA.rglob("*.bicepparam"))


@pytest.mark.parametrize("path", bicep.bicep_files(), ids=lambda p: str(p.relative_to(bicep.ROOT)))
def test_bicep_file_parses_without_error_nodes(path: Path) -> None:
    """The file's tree-sitter-bicep parse has no ERROR and no MISSING node."""
    problems = _syntax_problems(path.read_bytes())
    assert not problems, f"{path.name} does not parse:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "broken",
    [
        b"resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: 'x'\n",
        b"param size int = \nvar x = 1\n",
        b"var y = {\n  a: 'unterminated\n}\n",
    ],
    ids=["unclosed-object", "param-without-value", "unterminated-string"],
)
def test_gate_rejects_broken_bicep(broken: bytes) -> None:
    """The gate itself finds ERROR/MISSING nodes in deliberately broken Bicep."""
    assert _syntax_problems(broken)
