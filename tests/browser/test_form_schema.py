"""The SPA's validator (ajv in Node, the engine the page runs) agrees with the Python schema
check, and so with the function's validator, over both message corpora."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_bad_message_corpus import BAD, GOOD, body_of, load
from tests.unit.test_request_schema import parsed, schema_fields

SCRIPT = Path(__file__).with_name("ajv_fields.mjs")


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_ajv_names_the_same_fields_as_the_schema_check():
    """Every corpus document the browser can parse: same field paths from ajv and jsonschema."""
    cases = []
    for path in BAD + GOOD:
        readable, document = parsed(body_of(load(path)))
        if readable:
            cases.append((path.stem, document))
    assert len(cases) > 80
    run = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps([document for _, document in cases]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    from_ajv = json.loads(run.stdout)
    disagreements = {
        name: (sorted(schema_fields(document)), fields)
        for (name, document), fields in zip(cases, from_ajv, strict=True)
        if sorted(schema_fields(document)) != fields
    }
    assert not disagreements
