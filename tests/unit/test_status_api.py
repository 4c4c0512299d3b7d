"""The status endpoint as a pure function of a request id and a status store."""

from __future__ import annotations

import json
from typing import cast

import pytest

from provisioning.errors import ErrorInfo
from provisioning.status import Phase, StatusRecord
from provisioning.status_api import status_answer
from tests.fakes import MemoryStatusStore
from tests.unit.factories import REQUEST_ID, make_record


def answer(raw_id: str, *records: StatusRecord) -> tuple[int, dict[str, object], list[str]]:
    store = MemoryStatusStore()
    store.seed(*records)
    result = status_answer(raw_id, store)
    return result.status_code, json.loads(result.body), store.asked


@pytest.mark.parametrize(
    "phase", [Phase.ENSURING_RESOURCE_GROUP, Phase.CREATING_CLUSTER, Phase.SUCCEEDED]
)
def test_known_request_answers_its_status(phase: Phase) -> None:
    """A known request answers 200 with the record's API form."""
    record = make_record(phase=phase, attempt=3)
    status, body, _ = answer(REQUEST_ID, record)
    assert status == 200
    assert body == json.loads(json.dumps(record.to_api()))
    assert body["phase"] == phase.value
    assert body["attempt"] == 3


def test_failed_request_answers_its_error() -> None:
    """A failed request answers 200 with the ARM-style error for the SPA to show."""
    record = make_record(phase=Phase.FAILED, error=ErrorInfo("ClusterCreateTimeout", "too slow"))
    status, body, _ = answer(REQUEST_ID, record)
    assert status == 200
    assert body["error"] == {"code": "ClusterCreateTimeout", "message": "too slow"}


def test_upper_case_id_is_looked_up_lowercased() -> None:
    """The id is normalised before the lookup, so an upper-case id finds the record."""
    status, body, asked = answer(REQUEST_ID.upper(), make_record())
    assert status == 200
    assert asked == [REQUEST_ID]
    assert body["request_id"] == REQUEST_ID


def test_unknown_request_is_404() -> None:
    """An id with no record answers 404 RequestNotFound naming the id."""
    status, body, asked = answer(REQUEST_ID)
    assert status == 404
    error = cast(dict[str, str], body["error"])
    assert error["code"] == "RequestNotFound"
    assert REQUEST_ID in error["message"]
    assert asked == [REQUEST_ID]


@pytest.mark.parametrize(
    "raw_id",
    [
        "",
        "not-a-uuid",
        REQUEST_ID.replace("-", ""),
        "{" + REQUEST_ID + "}",
        "urn:uuid:" + REQUEST_ID,
        REQUEST_ID + " ",
        REQUEST_ID[:-1] + "g",
        "../" + REQUEST_ID,
    ],
)
def test_malformed_id_is_400_without_a_lookup(raw_id: str) -> None:
    """A malformed id answers 400 InvalidRequestId and never reaches the store."""
    status, body, asked = answer(raw_id, make_record())
    assert status == 400
    assert cast(dict[str, str], body["error"])["code"] == "InvalidRequestId"
    assert asked == []
