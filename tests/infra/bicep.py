"""Reading infra/*.bicep offline with tree-sitter-bicep: the parse tree, and the app settings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
APP_BICEP = INFRA / "app.bicep"
MAIN_BICEP = INFRA / "main.bicep"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def _parser() -> Any:
    ts = pytest.importorskip("tree_sitter", reason="tree-sitter is a dev requirement (pinned)")
    bicep = pytest.importorskip(
        "tree_sitter_bicep", reason="tree-sitter-bicep is a dev requirement (pinned)"
    )
    return ts.Parser(ts.Language(bicep.language()))


def parse(source: bytes) -> Any:
    """The tree-sitter tree of one Bicep source."""
    return _parser().parse(source)


def walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from walk(child)


def text(node: Any) -> str:
    return bytes(node.text).decode("utf-8")


def string_value(node: Any) -> str | None:
    """A plain string literal's value ('abc'), or None for anything else (interpolation, names)."""
    if node.type != "string":
        return None
    if any(child.type == "interpolation" for child in node.children):
        return None
    return "".join(text(c) for c in node.children if c.type == "string_content")


def property_key(node: Any) -> str:
    """The key of an object_property: an identifier, or a quoted string."""
    key = node.children[0]
    return string_value(key) or text(key)


def property_value(node: Any) -> Any:
    """The value node of an object_property (after the colon)."""
    named = [c for c in node.children if c.is_named and c.type != "comment"]
    return named[-1]


def object_properties(obj: Any) -> dict[str, Any]:
    return {
        property_key(child): property_value(child)
        for child in obj.children
        if child.type == "object_property"
    }


@dataclass(frozen=True)
class AppSetting:
    name: str
    value_source: str  # the Bicep expression, as written
    value: str | None  # its value when it is a plain string literal


def app_settings(source: bytes | None = None) -> list[AppSetting]:
    """The function app's siteConfig.appSettings in app.bicep, in order."""
    tree = parse(source if source is not None else APP_BICEP.read_bytes())
    arrays = [
        property_value(node)
        for node in walk(tree.root_node)
        if node.type == "object_property" and property_key(node) == "appSettings"
    ]
    assert len(arrays) == 1, f"expected one appSettings list in app.bicep, found {len(arrays)}"
    settings = []
    for item in arrays[0].children:
        if item.type != "object":
            continue
        props = object_properties(item)
        name = string_value(props["name"])
        assert name is not None, f"an app setting's name is not a string literal: {text(item)}"
        value = props["value"]
        settings.append(AppSetting(name, text(value), string_value(value)))
    return settings


def property_keys(source: bytes) -> set[str]:
    """Every object property key in a Bicep source (comments are not properties)."""
    return {
        property_key(node)
        for node in walk(parse(source).root_node)
        if node.type == "object_property"
    }


def param_defaults(source: bytes) -> dict[str, str]:
    """param name -> the default's source text, for every param with a default."""
    found = {}
    for node in walk(parse(source).root_node):
        if node.type != "parameter_declaration":
            continue
        named = [c for c in node.children if c.is_named and c.type not in ("comment", "decorators")]
        name = text(named[0])
        if len(named) >= 3:
            found[name] = text(named[-1])
    return found
