"""Vendor the Bicep resource types that infra/*.bicep uses, as data, from Azure/bicep-types-az.

    python -m tests.infra.bicep_types.vendor <bicep-types-az git dir> [commit]

For every ``resource ... 'Type@apiVersion'`` in infra/*.bicep, it finds the generated
``types.json`` under ``generated/`` that defines that ResourceType, keeps the ResourceType and
every type reachable from it (renumbered), and writes ``types.json`` beside this file with the
repository, the commit and the file each resource type came from. Nothing else is copied.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.infra import bicep

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "types.json"
REPOSITORY = "Azure/bicep-types-az"


def used_resource_types() -> list[str]:
    """Every 'Type@apiVersion' that a resource declaration in infra/*.bicep names."""
    found = set()
    for path in bicep.bicep_files():
        for node in bicep.walk(bicep.parse(path.read_bytes()).root_node):
            if node.type == "resource_declaration":
                strings = [c for c in node.children if c.type == "string"]
                value = bicep.string_value(strings[0])
                assert value is not None, bicep.text(node)[:80]
                found.add(value)
    return sorted(found)


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, *args], capture_output=True, text=True, check=True
    ).stdout


def _candidates(git_dir: str, commit: str, type_name: str) -> list[str]:
    """generated/**/<provider>/<apiVersion>/types.json files that may define ``type_name``."""
    resource, version = type_name.split("@")
    provider = resource.split("/")[0].lower()
    listing = _git(git_dir, "ls-tree", "-r", "--name-only", commit, "generated").splitlines()
    return [p for p in listing if p.endswith(f"/{provider}/{version}/types.json")]


def _closure(types: list[dict[str, Any]], root: int) -> list[int]:
    """Indexes of every type reachable from ``types[root]``, root first."""
    order: list[int] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        index = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        order.append(index)
        stack.extend(reversed(_refs(types[index])))
    return order


def _refs(value: Any) -> list[int]:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return [int(value["$ref"].removeprefix("#/"))]
        return [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _renumber(value: Any, mapping: dict[int, int]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return {"$ref": f"#/{mapping[int(value['$ref'].removeprefix('#/'))]}"}
        return {key: _renumber(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [_renumber(item, mapping) for item in value]
    return value


def _locate(git_dir: str, commit: str, type_name: str) -> tuple[str, list[dict[str, Any]], int]:
    """The types.json file defining ``type_name``, its types, and the ResourceType's index."""
    for path in _candidates(git_dir, commit, type_name):
        types = json.loads(_git(git_dir, "show", f"{commit}:{path}"))
        for index, entry in enumerate(types):
            if entry["$type"] == "ResourceType" and entry["name"].lower() == type_name.lower():
                return path, types, index
    raise SystemExit(f"{type_name}: no types.json in {REPOSITORY} defines it")


def vendor(git_dir: str, commit: str) -> dict[str, Any]:
    """One closure per source file (types shared by its resources are kept once)."""
    by_file: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {}
    files: dict[str, str] = {}
    for type_name in used_resource_types():
        path, types, index = _locate(git_dir, commit, type_name)
        by_file.setdefault(path, (types, {}))[1][type_name] = index
        files[type_name] = path
    out_types: list[dict[str, Any]] = []
    resources: dict[str, int] = {}
    for types, roots in by_file.values():
        order: list[int] = []
        for root in roots.values():
            order.extend(i for i in _closure(types, root) if i not in order)
        mapping = {old: len(out_types) + new for new, old in enumerate(order)}
        out_types.extend(_renumber(types[old], mapping) for old in order)
        resources |= {name: mapping[root] for name, root in roots.items()}
    return {
        "_source": {
            "repository": REPOSITORY,
            "commit": commit,
            "note": "The generated Bicep type definitions (types.json) of each resource type and "
            "api-version infra/*.bicep uses, reduced to the types reachable from those resource "
            "types; written by tests/infra/bicep_types/vendor.py. Data, not code.",
            "files": files,
        },
        "resources": dict(sorted(resources.items())),
        "types": out_types,
    }


def main(argv: list[str]) -> int:
    git_dir = argv[0]
    commit = argv[1] if len(argv) > 1 else _git(git_dir, "rev-parse", "HEAD").strip()
    OUTPUT.write_text(json.dumps(vendor(git_dir, commit), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
