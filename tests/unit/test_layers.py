"""The import graph: the pure modules reach no SDK and no I/O module, however indirectly.

Read from the source (``ast``), so it names the import that breaks the rule; one subprocess
then imports them all and checks what really got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "provisioning"
# Decisions and rules over plain data, and the handlers that reach Azure only through ports.
PURE = (
    "contract",
    "decisions",
    "due_index",
    "errors",
    "messages",
    "poison",
    "ports",
    "preflight",
    "reconcile",
    "settings",
    "status",
    "identity",
    "policy",
    "inflight",
    "admission",
    "front_door",
    "table_limits",
    "texts",
    "views",
)
# Our modules that do I/O or wire it up.
IO_MODULES = frozenset(
    {
        "arm",
        "storage",
        "credentials",
        "runtime",
        "triggers",
        "client",
        "preflight_probe",
        "bearer",
        "api",
    }
)
# Standard-library modules that open sockets or processes.
IO_STDLIB = frozenset({"socket", "ssl", "http", "urllib.request", "subprocess", "asyncio"})


def _imports(module: str) -> set[str]:
    """The modules ``provisioning.<module>`` imports at its top level (any depth of nesting)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "provisioning":
                found.update(f"provisioning.{alias.name}" for alias in node.names)
    return found


def _reach(module: str) -> dict[str, str]:
    """Every module reachable from ``module``, each with the chain of imports that reaches it."""
    paths = {f"provisioning.{module}": f"provisioning.{module}"}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in _imports(current):
            if name in paths:
                continue
            paths[name] = f"{paths[f'provisioning.{current}']} -> {name}"
            inner = name.removeprefix("provisioning.")
            if name.startswith("provisioning.") and (PACKAGE / f"{inner}.py").exists():
                todo.append(inner)
    return paths


def _forbidden(name: str) -> bool:
    top = name.split(".", maxsplit=1)[0]
    if top == "provisioning":
        return name.removeprefix("provisioning.") in IO_MODULES
    third_party = top not in sys.stdlib_module_names and top != "__future__"
    return third_party or name in IO_STDLIB or top in IO_STDLIB


@pytest.mark.parametrize("module", PURE)
def test_pure_module_reaches_no_sdk_and_no_io_module(module: str) -> None:
    """No import chain from a pure module ends in an SDK, an I/O module or a socket."""
    chains = [chain for name, chain in _reach(module).items() if _forbidden(name)]
    assert chains == []


def test_the_rule_sees_a_forbidden_import() -> None:
    """The check itself: the SDK adapters are flagged, through their real imports."""
    assert any(_forbidden(name) for name in _reach("arm"))
    assert any(_forbidden(name) for name in _reach("runtime"))


def test_importing_the_pure_modules_loads_no_sdk() -> None:
    """In a fresh interpreter, importing every pure module loads no azure package."""
    code = (
        "import sys\n"
        + "".join(f"import provisioning.{module}\n" for module in PURE)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'azure'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
