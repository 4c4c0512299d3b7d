"""The data-file corpora of bad and good queue messages (see tests/data/bad_messages/README)."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from provisioning.contract import parse_request, readable_request_id
from provisioning.errors import InvalidRequest

DATA = Path(__file__).resolve().parents[1] / "data"
BAD = sorted((DATA / "bad_messages").glob("*.json"))
GOOD = sorted((DATA / "good_messages").glob("*.json"))
BODY_FORMS = ("body_json", "body_text", "body_base64", "wire_text")


def load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def body_of(case: dict[str, Any]) -> bytes:
    """The bytes ``parse_request`` is given for a case (see the corpus README)."""
    if "body_json" in case:
        return json.dumps(case["body_json"], ensure_ascii=False).encode("utf-8")
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"], validate=True)
    text = case["body_text"] if "body_text" in case else case["wire_text"]
    return str(text).encode("utf-8", "surrogatepass")


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_corpus", DATA / "bad_messages" / "make_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpora_are_big_enough():
    """The bad corpus holds at least 40 cases and the good one at least 5."""
    assert len(BAD) >= 40
    assert len(GOOD) >= 5


@pytest.mark.parametrize("path", BAD + GOOD, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_case_file_is_well_formed(path: Path):
    """Every case has a description and exactly one body form; bad cases state their outcome."""
    case = load(path)
    assert case["description"].strip()
    assert sum(form in case for form in BODY_FORMS) == 1
    if path.parent.name == "bad_messages":
        assert isinstance(case["expected_fields"], list) and case["expected_fields"]
        assert isinstance(case["request_id_readable"], bool)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_message_is_rejected_naming_exactly_the_expected_fields(path: Path):
    """A bad message raises one InvalidRequest naming exactly its fields; request_id as stated."""
    case = load(path)
    body = body_of(case)
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body)
    fields = sorted(problem.field for problem in caught.value.problems)
    assert fields == sorted(case["expected_fields"])
    assert len(fields) == len(set(fields)), "a field is named more than once"
    assert (caught.value.request_id is not None) == case["request_id_readable"]
    assert caught.value.request_id == readable_request_id(body)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_message_parses(path: Path):
    """A good edge case parses, and its canonical form has the stated values and round-trips."""
    case = load(path)
    request = parse_request(body_of(case))
    canonical = request.to_dict()
    for key, value in case.get("expected", {}).items():
        assert canonical[key] == value, key
    assert parse_request(json.dumps(canonical)) == request


def test_corpus_matches_its_generator(tmp_path: Path):
    """The committed files are exactly what make_corpus.py writes (nobody edited them by hand)."""
    generator().main(tmp_path / "bad", tmp_path / "good")
    for committed, generated in (
        (DATA / "bad_messages", tmp_path / "bad"),
        (DATA / "good_messages", tmp_path / "good"),
    ):
        names = sorted(p.name for p in committed.glob("*.json"))
        assert names == sorted(p.name for p in generated.glob("*.json"))
        for name in names:
            assert (committed / name).read_bytes() == (generated / name).read_bytes(), name
