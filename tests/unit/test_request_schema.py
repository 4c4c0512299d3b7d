"""schemas/provisioning-request.schema.json agrees with the validator over both message corpora.

For every good and bad corpus file, the set of fields the schema names must equal the set the
validator names, except for the rules a schema cannot express (``NOT_EXPRESSED``), where the
schema must name a strict subset: it may miss a problem the function then reports, but it
never invents one (which would block a valid request in the SPA's form).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from provisioning.contract import MAX_MESSAGE_BYTES, parse_request
from provisioning.errors import InvalidRequest
from provisioning.schema import NOT_EXPRESSED, SCHEMA_PATH, render, request_schema
from tests.unit.test_bad_message_corpus import BAD, GOOD, body_of, load

# Corpus files whose problem is a rule of NOT_EXPRESSED (besides unparseable or oversized bodies,
# recognised below): the schema names fewer fields there than the validator.
BEYOND_SCHEMA = {
    "duplicate-cluster-name": "duplicate keys",
    "duplicate-request-id": "duplicate keys",
    "lone-surrogate-tag-value": "lone surrogates",
    "node-count-float": "integral floats",
    "node-resource-group-81": "node resource group",
    "resource-group-90-node-rg": "node resource group",
    "tag-names-differ-by-case": "tag case",
    "tag-value-129-emoji": "UTF-16 length",
}


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``pattern`` as ECMA-262 (the SPA's engine) reads it: ``$`` is the end of the string.

    Python's ``$`` also matches before a final newline, which would accept ``"<uuid>\\n"``.
    """
    if isinstance(instance, str):
        python = re.sub(r"(?<!\\)\$", r"\\Z", pattern)
        if not re.search(python, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})


def schema_fields(document: Any, schema: dict[str, Any] | None = None) -> set[str]:
    """The contract's field paths (``cluster.name``, ``tags.<name>``, ``$``) the schema names."""
    validator = EcmaValidator(schema or request_schema())
    fields: set[str] = set()
    for error in validator.iter_errors(document):
        path = [str(part) for part in error.absolute_path]
        if "propertyNames" in error.absolute_schema_path:
            fields.add(".".join([*path, str(error.instance)]))
        elif error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            fields.update(".".join([*path, k]) for k in missing)
        elif error.validator == "additionalProperties" and error.validator_value is False:
            known = set(error.schema.get("properties", {}))
            fields.update(".".join([*path, k]) for k in error.instance if k not in known)
        else:
            fields.add(".".join(path) or "$")
    return fields


def validator_fields(body: bytes) -> set[str]:
    try:
        parse_request(body)
    except InvalidRequest as exc:
        return {problem.field for problem in exc.problems}
    return set()


def _not_json(literal: str) -> Any:
    raise ValueError(f"{literal} is not JSON")


def parsed(body: bytes) -> tuple[bool, Any]:
    """(True, document) when a browser's JSON.parse sees the same document, else (False, None)."""
    if len(body) > MAX_MESSAGE_BYTES:
        return False, None
    try:
        return True, json.loads(body.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError):
        return False, None


def test_committed_schema_is_generated_from_the_validator():
    """The file the SPA reads is exactly what provisioning.schema generates (run it to update)."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render()


def test_every_exception_names_a_documented_rule():
    """Each corpus file outside the schema's reach cites a rule listed in NOT_EXPRESSED."""
    assert set(BEYOND_SCHEMA.values()) <= set(NOT_EXPRESSED)
    assert {p.stem for p in BAD} >= set(BEYOND_SCHEMA)


@pytest.mark.parametrize("path", BAD + GOOD, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_schema_and_validator_agree(path: Path):
    """Same fields named by both where a schema can say it; elsewhere the schema names fewer."""
    body = body_of(load(path))
    expected = validator_fields(body)
    readable, document = parsed(body)
    if not readable:
        assert expected == {"$"} or path.stem in {"infinity-tag-value", "nan-node-count"}
        return
    found = schema_fields(document)
    if path.stem in BEYOND_SCHEMA:
        assert found < expected, f"{path.stem} is within the schema's reach now: drop it"
    else:
        assert found == expected


def test_agreement_can_fail():
    """A schema that drifted (node_count up to 1000) disagrees on the corpus's node-count-101."""
    drifted = request_schema(max_node_count=1000)
    body = body_of(load(next(p for p in BAD if p.stem == "node-count-101")))
    assert schema_fields(json.loads(body), drifted) == set()
    assert validator_fields(body) == {"cluster.node_count"}
