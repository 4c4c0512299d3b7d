"""Sizes (issue 14, problem 3) and log injection (problem 5), as pure logic with no I/O.

Table storage's limits are computed as the service counts them (UTF-16 bytes); a contract-valid
body at the 16 KiB limit, all emoji, must fit one status record; error texts are capped; and a
field name cannot forge a log line.
"""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest

from provisioning.contract import MAX_MESSAGE_BYTES, example_request, parse_request
from provisioning.errors import MAX_ERROR_BYTES, MAX_PROBLEMS_SHOWN, InvalidRequest
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.status import StatusRecord
from provisioning.table_limits import (
    MAX_ENTITY_BYTES,
    MAX_PROPERTY_BYTES,
    entity_bytes,
    entity_problem,
    utf16_bytes,
)
from provisioning.texts import capped, log_text, utf16_units
from tests.fakes import World
from tests.unit.factories import (
    REQUEST_ID,
    SUBSCRIPTION,
    T0,
    body_size,
    make_settings,
    non_ascii_at_limit,
)

KEYS = {"PartitionKey": REQUEST_ID, "RowKey": "status"}


def _at_limit() -> dict[str, object]:
    base = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    return non_ascii_at_limit(base)


def test_the_builder_reaches_the_contract_limit() -> None:
    """The test body is contract-valid and within 8 bytes of 16 KiB, nearly all emoji."""
    document = _at_limit()
    size = body_size(document)
    assert MAX_MESSAGE_BYTES - 8 <= size <= MAX_MESSAGE_BYTES
    parse_request(json.dumps(document, ensure_ascii=False).encode())


def test_a_16_kib_body_of_emoji_fits_one_status_record() -> None:
    """The request JSON is stored unescaped: 16 KiB of emoji is 16 KiB of UTF-16, not 96 KB."""
    request = parse_request(json.dumps(_at_limit(), ensure_ascii=False).encode())
    entity = StatusRecord.accepted(request, advanced_by="m", now=T0).to_entity()
    assert entity_problem(entity) is None, entity_problem(entity)
    assert "🚀" in entity["request_json"]


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * (MAX_PROPERTY_BYTES // 2), True),  # 32768 ASCII: 64 KiB of UTF-16
        ("a" * (MAX_PROPERTY_BYTES // 2 + 1), False),  # 32769 bytes of UTF-8, too many UTF-16
        ("é" * (MAX_PROPERTY_BYTES // 2), True),
        ("🚀" * (MAX_PROPERTY_BYTES // 4), True),  # a surrogate pair each: 4 bytes
        ("🚀" * (MAX_PROPERTY_BYTES // 4) + "a", False),  # 16385 characters, 65538 bytes
    ],
)
def test_string_properties_are_counted_in_utf16_bytes(text: str, fits: bool) -> None:
    """64 KiB per string property, counted in UTF-16 bytes as the service counts it."""
    problem = entity_problem({**KEYS, "value": text})
    assert (problem is None) is fits
    if not fits:
        assert problem is not None and problem.code == "PropertyValueTooLarge"


@pytest.mark.parametrize(
    ("text", "units"),
    [("", 0), ("abc", 3), ("é東", 2), ("🚀", 2), ("a🚀b", 4), ("\ud83d", 1), ("x\udc00🚀", 4)],
)
def test_one_utf16_count_serves_arm_tags_and_table_storage(text: str, units: int) -> None:
    """ARM's tag lengths (code units) and Table storage's sizes (bytes) share one count, and
    it is what UTF-16 encoding makes of the text (a lone surrogate as one unit)."""
    assert utf16_units(text) == units
    assert utf16_bytes(text) == 2 * units == len(text.encode("utf-16-le", "surrogatepass"))


def test_binary_properties_and_the_entity_limit() -> None:
    """Binary counts its bytes; 18 properties of 60 000 bytes pass each limit but not 1 MiB."""
    assert entity_problem({**KEYS, "wire": b"x" * MAX_PROPERTY_BYTES}) is None
    problem = entity_problem({**KEYS, "wire": b"x" * (MAX_PROPERTY_BYTES + 1)})
    assert problem is not None and problem.code == "PropertyValueTooLarge"
    wide = {**KEYS, **{f"wire_{i}": b"x" * 60_000 for i in range(18)}}
    assert entity_bytes(wide) > MAX_ENTITY_BYTES
    problem = entity_problem(wide)
    assert problem is not None and problem.code == "EntityTooLarge"
    many = {**KEYS, **{f"p{i}": 1 for i in range(253)}}
    problem = entity_problem(many)
    assert problem is not None and problem.code == "TooManyProperties"


def test_entity_size_follows_the_service_formula() -> None:
    """4 + keys x 2 + per property 8 + name x 2 + value (string 4 + 2 per unit, int 4, bool 1)."""
    entity = {"PartitionKey": "ab", "RowKey": "c", "s": "é🚀", "n": 7, "b": True}
    assert entity_bytes(entity) == 4 + 6 + (8 + 2 + 4 + 6) + (8 + 2 + 4) + (8 + 2 + 1)


def test_invalid_request_texts_are_capped_and_counted() -> None:
    """700 unknown keys in an 8 KB body: 20 named, the rest counted, at most 4 KiB of text."""
    document = {**example_request(), **{f"unknown_key_{i:03d}": 1 for i in range(700)}}
    body = json.dumps(document).encode()
    assert len(body) < MAX_MESSAGE_BYTES
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body)
    info = caught.value.info
    more = len(caught.value.problems) - MAX_PROBLEMS_SHOWN
    assert more >= 680
    assert len(info.message.encode()) <= MAX_ERROR_BYTES
    assert f"and {more} more problems" in info.message
    assert len(info.details) == MAX_PROBLEMS_SHOWN + 1
    assert len(json.dumps(info.to_dict()).encode()) <= 2 * MAX_ERROR_BYTES


def test_long_field_names_fill_the_budget_and_the_rest_is_counted() -> None:
    """Tag names at ARM's 512 characters: as many whole problems as fit 4 KiB, then a count."""
    tags = {f"{i:02d}" + "n" * 600: "v" for i in range(20)}
    with pytest.raises(InvalidRequest) as caught:
        parse_request(json.dumps({**example_request(), "tags": tags}).encode())
    info = caught.value.info
    assert len(info.message.encode()) <= MAX_ERROR_BYTES
    shown = len(info.details) - 1
    assert 1 <= shown < MAX_PROBLEMS_SHOWN
    assert info.details[-1] == f"and {len(caught.value.problems) - shown} more problems"
    assert info.message.endswith(info.details[-1])


def test_capped_cuts_on_a_character_boundary() -> None:
    """A cut never splits a multi-byte character and says how long the text was."""
    text = capped("🚀" * 2000, 100)
    assert len(text.encode()) <= 100
    assert text.endswith("(cut: 8000 bytes)")
    assert capped("short", 100) == "short"


@pytest.mark.parametrize(
    "char", ["\n", "\r", "\x1b", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u2066"]
)
def test_log_text_escapes_what_could_break_or_disguise_a_line(char: str) -> None:
    """CR/LF, ESC, other controls, U+2028/9 and bidi overrides are shown escaped."""
    shown = log_text(f"a{char}b")
    assert char not in shown
    assert shown.startswith("a\\") and shown.endswith("b")


def test_log_text_caps_length() -> None:
    """A long value is cut, saying how long it was."""
    assert log_text("x" * 1000, 50) == "x" * 50 + "... (1000 characters)"
    assert log_text("ok é 🚀") == "ok é 🚀"  # printable non-ASCII is left alone


FORGED_ID = "11111111-2222-4333-8444-555555555555"
FORGED = (
    f"x\n[2026-12-01T10:00:00Z] provisioning INFO request {FORGED_ID} "
    "[succeeded, attempt 1/12]: cluster succeeded\x1b[2K\u2028\u202e"
)


def test_a_field_name_cannot_forge_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """An unknown key carrying a newline and a fake line: rejected, and logged on one line."""
    document = {**example_request(), "request_id": REQUEST_ID, FORGED: "1"}
    wire = base64.b64encode(json.dumps(document).encode())
    caplog.set_level(logging.INFO)
    world = World(make_settings(), T0)
    handle(Delivery(id="m1", wire=wire, dequeue_count=1), world.deps)
    world.poison(Delivery(id="p1", wire=wire, dequeue_count=1), "q")
    formatter = logging.Formatter("[%(asctime)s] %(name)s %(levelname)s %(message)s")
    lines = "\n".join(formatter.format(r) for r in caplog.records).splitlines()
    assert len(lines) == len(caplog.records) >= 2
    assert not [
        line
        for line in lines
        if re.match(rf"\[[^]]*\] provisioning INFO request {FORGED_ID}", line)
    ]
    text = "\n".join(lines)
    for char in ("\r", "\x1b", "\u2028", "\u202e"):
        assert char not in text
    assert "rejected: InvalidRequest" in text
    assert "\\x0a" in text  # the newline is there, shown escaped
