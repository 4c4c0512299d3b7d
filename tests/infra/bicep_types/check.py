"""Check infra/*.bicep resource bodies against the vendored Bicep types (types.json beside this
file), as the Bicep compiler would: a property the type does not declare (BCP037), a literal of
the wrong type or outside its allowed values or bounds (BCP036), a read-only property set
(BCP073), a required property missing (BCP035).

Only what is literal is typed: a string, number, boolean, null, object or array written in the
body, and both branches of a ternary. Parameters, variables, function calls and member accesses
are not evaluated (the compiler would type them; this does not pretend to).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.infra import bicep

TYPES = Path(__file__).resolve().parent / "types.json"
REQUIRED, READ_ONLY = 1, 2
# Keywords of a Bicep resource body that are not properties of the resource type.
BICEP_KEYWORDS = frozenset({"parent", "scope", "dependsOn"})


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    code: str  # the Bicep diagnostic this mirrors
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code} {self.message}"


@cache
def vendored(path: Path = TYPES) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class _Checker:
    def __init__(self, file: str, types: dict[str, Any]) -> None:
        self.file = file
        self.types: list[dict[str, Any]] = types["types"]
        self.resources = {name.lower(): index for name, index in types["resources"].items()}
        self.problems: list[Problem] = []
        self.typed_values = 0  # literal values whose type was checked

    def _problem(self, node: Any, code: str, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_point[0] + 1, code, message))

    def _type(self, ref: dict[str, str]) -> dict[str, Any]:
        return self.types[int(ref["$ref"].removeprefix("#/"))]

    def resource(self, declaration: Any) -> None:
        type_node = next(c for c in declaration.children if c.type == "string")
        name = bicep.string_value(type_node) or ""
        index = self.resources.get(name.lower())
        if index is None:
            self._problem(declaration, "BCP081", f"no vendored type for {name}: re-run vendor.py")
            return
        body_type = self._type(self.types[index]["body"])
        for body in _bodies(declaration):
            self.value(body, body_type, name, top=True)

    def value(self, node: Any, expected: dict[str, Any], where: str, top: bool = False) -> None:
        kind = expected["$type"]
        if node.type == "ternary_expression":
            named = [c for c in node.children if c.is_named]
            for branch in named[1:]:
                self.value(branch, expected, where)
            return
        if node.type == "parenthesized_expression":
            self.value(next(c for c in node.children if c.is_named), expected, where)
            return
        if kind == "AnyType" or node.type not in _LITERALS:
            return
        if node.type == "null":
            return  # null is allowed for an optional property, as in Bicep
        self.typed_values += 1
        if kind == "UnionType":
            self._union(node, expected, where)
        elif kind == "DiscriminatedObjectType":
            self._discriminated(node, expected, where, top)
        elif kind == "ObjectType":
            self._object(node, expected, where, top)
        elif kind == "ArrayType":
            self._array(node, expected, where)
        elif not _scalar_matches(node, expected):
            self._problem(
                node,
                "BCP036",
                f"{where}: {bicep.text(node)[:60]} is not {_describe(expected)}",
            )

    def _union(self, node: Any, expected: dict[str, Any], where: str) -> None:
        elements = [self._type(ref) for ref in expected["elements"]]
        if node.type in ("object", "array"):
            shaped = [e for e in elements if _shape(e) == node.type]
            if shaped:
                self.value(node, shaped[0], where)
                return
        elif any(_scalar_matches(node, e) for e in elements if _shape(e) == "scalar"):
            return
        allowed = " | ".join(_describe(e) for e in elements)
        self._problem(node, "BCP036", f"{where}: {bicep.text(node)[:60]} is not {allowed}")

    def _array(self, node: Any, expected: dict[str, Any], where: str) -> None:
        if node.type != "array":
            self._problem(node, "BCP036", f"{where}: expected an array")
            return
        item_type = self._type(expected["itemType"])
        for item in node.children:
            if item.is_named and item.type != "comment":
                self.value(item, item_type, f"{where}[]")

    def _discriminated(self, node: Any, expected: dict[str, Any], where: str, top: bool) -> None:
        if node.type != "object":
            self._problem(node, "BCP036", f"{where}: expected an object")
            return
        properties = bicep.object_properties(node)
        tag_node = properties.get(expected["discriminator"])
        tag = bicep.string_value(tag_node) if tag_node is not None else None
        if tag is None or tag not in expected["elements"]:
            self._problem(
                node,
                "BCP078",
                f"{where}: {expected['discriminator']} must be one of "
                f"{sorted(expected['elements'])}",
            )
            return
        variant = self._type(expected["elements"][tag])
        merged = {**expected.get("baseProperties", {}), **variant.get("properties", {})}
        self._object(node, {**variant, "properties": merged}, where, top)

    def _object(self, node: Any, expected: dict[str, Any], where: str, top: bool) -> None:
        if node.type != "object":
            self._problem(node, "BCP036", f"{where}: expected an object")
            return
        declared: dict[str, Any] = expected.get("properties", {})
        extra = expected.get("additionalProperties")
        written = set()
        for child in node.children:
            if child.type != "object_property":
                continue
            key_node = child.children[0]
            if key_node.type == "string" and bicep.string_value(key_node) is None:
                continue  # an interpolated key: only its additionalProperties type could apply
            key = bicep.property_key(child)
            written.add(key)
            value = bicep.property_value(child)
            if top and key in BICEP_KEYWORDS:
                continue
            prop = declared.get(key)
            if prop is None:
                if extra is not None:
                    self.value(value, self._type(extra), f"{where}.{key}")
                    continue
                known = sorted(k for k, p in declared.items() if not p["flags"] & READ_ONLY)
                self._problem(
                    child,
                    "BCP037",
                    f"{where}: property '{key}' is not allowed on {expected.get('name')}; "
                    f"writable ones: {', '.join(known)}",
                )
                continue
            if prop["flags"] & READ_ONLY:
                self._problem(child, "BCP073", f"{where}: property '{key}' is read-only")
                continue
            self.value(value, self._type(prop["type"]), f"{where}.{key}")
        missing = [
            k
            for k, p in declared.items()
            if p["flags"] & REQUIRED and not p["flags"] & READ_ONLY and k not in written
        ]
        if missing:
            self._problem(node, "BCP035", f"{where}: missing required {', '.join(missing)}")


_BOUNDS = frozenset({"minLength", "maxLength", "minValue", "maxValue"})
_LITERALS = frozenset({"string", "number", "boolean", "null", "object", "array"})


def _bodies(declaration: Any) -> list[Any]:
    """The object(s) a resource declaration assigns: plain, behind ``if``, or in a ``for``."""
    found = []
    for child in declaration.children:
        if child.type == "object":
            found.append(child)
        elif child.type in ("if_statement", "for_statement"):
            found.extend(c for c in child.children if c.type == "object")
    return found


def _shape(expected: dict[str, Any]) -> str:
    kind = expected["$type"]
    if kind in ("ObjectType", "DiscriminatedObjectType"):
        return "object"
    return "array" if kind == "ArrayType" else "scalar"


def _scalar_matches(node: Any, expected: dict[str, Any]) -> bool:
    kind: str = expected["$type"]
    if kind == "AnyType":
        return True
    if node.type == "string":
        value = bicep.string_value(node)
        if kind == "StringType":
            if value is None:
                return True  # interpolated: a string, of unknown length
            return _within(len(value), expected.get("minLength"), expected.get("maxLength"))
        if kind == "StringLiteralType":
            return value is None or value == str(expected["value"])
        return False
    if node.type == "number":
        if kind != "IntegerType":
            return False
        number = int(bicep.text(node))
        return _within(number, expected.get("minValue"), expected.get("maxValue"))
    if node.type == "boolean":
        return kind == "BooleanType"
    return False


def _within(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _describe(expected: dict[str, Any]) -> str:
    kind: str = expected["$type"]
    if kind == "StringLiteralType":
        return repr(expected["value"])
    bounds = {k: v for k, v in expected.items() if k in _BOUNDS}
    return kind.removesuffix("Type").lower() + (f" {bounds}" if bounds else "")


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    resources: int
    typed_values: int


def check_source(source: bytes, file: str, types: dict[str, Any] | None = None) -> Report:
    """Every resource body in one Bicep source, against the vendored types."""
    checker = _Checker(file, types or vendored())
    declarations = [
        node
        for node in bicep.walk(bicep.parse(source).root_node)
        if node.type == "resource_declaration"
    ]
    for declaration in declarations:
        if any(c.type == "existing" for c in declaration.children):
            continue  # a reference to an existing resource has no body to deploy
        checker.resource(declaration)
    return Report(checker.problems, len(declarations), checker.typed_values)
