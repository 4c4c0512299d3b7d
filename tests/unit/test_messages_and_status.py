"""Chain messages, InvalidRequest, ErrorInfo and the status record's entity and API forms."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from provisioning.errors import ErrorInfo, FieldProblem, InvalidRequest, TerminalError
from provisioning.messages import ChainMessage, parse_chain_message
from provisioning.status import ROW_KEY, Phase, StatusRecord
from tests.unit.factories import API_FIELDS, CLUSTER_ID, GROUP_ID, REQUEST_ID, T0, make_record

_ABSENT = object()


def chain_document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "request_id": REQUEST_ID,
        "run": 2,
        "chain": "a1b2c3",
        "step": 4,
        "attempt": 3,
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not _ABSENT}


# --- parse_chain_message --------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "chain",
        42,
        {},
        {"request_id": REQUEST_ID, "run": 1, "step": 0, "attempt": 1},
        {"request_id": REQUEST_ID, "cluster": {"name": "aks"}},
    ],
)
def test_documents_without_chain_are_not_chain_messages(document: Any) -> None:
    """Anything that is not an object with ``chain`` is left to the request parser (None)."""
    assert parse_chain_message(document) is None


def test_valid_chain_message_is_parsed() -> None:
    """A complete chain document becomes a ChainMessage with the same values."""
    assert parse_chain_message(chain_document()) == ChainMessage(REQUEST_ID, 2, "a1b2c3", 4, 3)


def test_chain_message_request_id_is_lowercased() -> None:
    """An upper-case request id is normalised to lowercase, as the status records are keyed."""
    message = parse_chain_message(chain_document(request_id=REQUEST_ID.upper()))
    assert message is not None
    assert message.request_id == REQUEST_ID


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"run": _ABSENT}, "run"),
        ({"step": _ABSENT}, "step"),
        ({"attempt": _ABSENT}, "attempt"),
        ({"request_id": _ABSENT}, "request_id"),
        ({"run": -1}, "run"),
        ({"step": "4"}, "step"),
        ({"attempt": 1.0}, "attempt"),
        ({"attempt": True}, "attempt"),
        ({"run": None}, "run"),
        ({"chain": 7}, "chain"),
        ({"chain": None}, "chain"),
        ({"request_id": "not-a-uuid"}, "request_id"),
        ({"request_id": REQUEST_ID.replace("-", "")}, "request_id"),
        ({"request_id": "{" + REQUEST_ID + "}"}, "request_id"),
        ({"request_id": 12345}, "request_id"),
        ({"kind": "request"}, "kind"),
    ],
)
def test_malformed_chain_message_names_the_field(changes: dict[str, Any], field: str) -> None:
    """A chain document with a missing, mistyped or unknown field raises naming that field."""
    with pytest.raises(InvalidRequest) as caught:
        parse_chain_message(chain_document(**changes))
    assert field in {p.field for p in caught.value.problems}
    assert field in caught.value.info.message


def test_malformed_chain_message_names_every_field_and_keeps_request_id() -> None:
    """All problems are reported at once, and a readable request id is kept for the record."""
    with pytest.raises(InvalidRequest) as caught:
        parse_chain_message(chain_document(run=-1, step="x", extra=1, attempt=_ABSENT))
    assert {p.field for p in caught.value.problems} == {"run", "step", "extra", "attempt"}
    assert caught.value.request_id == REQUEST_ID


@pytest.mark.parametrize(
    "odd_id",
    [
        "0f8fad5bd9cb469fa16570867728950e----",
        "0f8f-ad5bd9cb-469fa165-70867728950e-",
    ],
)
def test_chain_message_rejects_non_canonical_uuid(odd_id: str) -> None:
    """Only the canonical 8-4-4-4-12 form is a valid request id in a chain message."""
    with pytest.raises(InvalidRequest):
        parse_chain_message(chain_document(request_id=odd_id))


@pytest.mark.parametrize("attempt", [0, 1, 12])
def test_chain_message_json_round_trips(attempt: int) -> None:
    """``to_json`` produces compact JSON that parses back to an equal message."""
    message = ChainMessage(REQUEST_ID, 1, "tok", 0, attempt)
    text = message.to_json()
    assert " " not in text
    assert json.loads(text) == {
        "request_id": REQUEST_ID,
        "run": 1,
        "chain": "tok",
        "step": 0,
        "attempt": attempt,
    }
    assert parse_chain_message(json.loads(text)) == message


# --- InvalidRequest and ErrorInfo -----------------------------------------------------------


def test_invalid_request_message_names_every_field() -> None:
    """InvalidRequest is terminal, coded InvalidRequest, and names each field with its reason."""
    problems = [
        FieldProblem("cluster.name", "is required"),
        FieldProblem("location", "must be a string, not null"),
        FieldProblem("tags.a/b", "the name contains /"),
    ]
    error = InvalidRequest(problems, REQUEST_ID)
    assert isinstance(error, TerminalError)
    assert error.info.code == "InvalidRequest"
    for problem in problems:
        assert f"{problem.field}: {problem.reason}" in error.info.message
    assert error.info.details == tuple(str(p) for p in problems)
    assert error.request_id == REQUEST_ID


@pytest.mark.parametrize(
    "info",
    [
        ErrorInfo("Code", "message"),
        ErrorInfo("Code", ""),
        ErrorInfo(
            "AuthorizationFailed",
            "denied",
            action="Microsoft.Resources/subscriptions/resourcegroups/write",
            scope=GROUP_ID,
            correlation_id="corr",
            details=("one", "two"),
        ),
    ],
)
def test_error_info_dict_round_trips(info: ErrorInfo) -> None:
    """``ErrorInfo.from_dict(to_dict())`` gives the same error back."""
    assert ErrorInfo.from_dict(info.to_dict()) == info


def test_error_info_dict_omits_empty_optional_fields() -> None:
    """Only code and message are always present in the dict the SPA sees."""
    assert ErrorInfo("Code", "msg").to_dict() == {"code": "Code", "message": "msg"}


# --- StatusRecord entity round trip ---------------------------------------------------------

FULL = make_record(
    phase=Phase.CREATING_CLUSTER,
    run=3,
    chain="chain-token",
    step=7,
    advanced_by="message-id",
    next_delay=30,
    attempt=4,
    max_attempts=12,
    transient_failures=2,
    aks_rg_not_found=1,
    rg_created=True,
    registration_requested=True,
    deleting_since=T0 + timedelta(minutes=1),
    watch_started=T0 + timedelta(minutes=2),
    operation_url="https://management.azure.com/op/1",
    resource_group_id=GROUP_ID,
    cluster_id=CLUSTER_ID,
    error=ErrorInfo("QuotaExceeded", "no cores", correlation_id="c", details=("d",)),
    updated_at=T0 + timedelta(minutes=3),
)


@pytest.mark.parametrize(
    "record",
    [
        make_record(),
        FULL,
        replace(FULL, phase=Phase.FAILED, next_delay=None, error=ErrorInfo("X", "y")),
        make_record(phase=Phase.SUCCEEDED, chain="", advanced_by=""),
    ],
    ids=["fresh", "full", "failed", "succeeded"],
)
def test_status_record_entity_round_trips(record: StatusRecord) -> None:
    """``from_entity(to_entity())`` returns an equal record (whole-second UTC times)."""
    etag = 'W/"1"'
    restored = StatusRecord.from_entity(record.to_entity(), etag)
    assert restored == replace(record, etag=etag)


def test_entity_keys_and_encodings() -> None:
    """The entity is keyed by request id, stores times as ISO Z, phase by value, error as JSON."""
    entity = FULL.to_entity()
    assert entity["PartitionKey"] == REQUEST_ID
    assert entity["RowKey"] == ROW_KEY
    assert entity["phase"] == "creating_cluster"
    assert entity["created_at"] == "2024-05-06T07:08:09Z"
    assert json.loads(entity["error"])["code"] == "QuotaExceeded"
    assert "request_id" not in entity
    assert "etag" not in entity


def test_entity_omits_unset_optionals() -> None:
    """None-valued fields are not written, so the entity carries no nulls."""
    entity = make_record().to_entity()
    assert None not in entity.values()
    assert "error" not in entity
    assert "watch_started" not in entity


def test_entity_times_are_converted_to_utc() -> None:
    """A time in another zone is stored as the same instant in UTC."""
    cet = timezone(timedelta(hours=2))
    record = make_record(updated_at=datetime(2024, 5, 6, 9, 8, 9, tzinfo=cet))
    assert record.to_entity()["updated_at"] == "2024-05-06T07:08:09Z"
    restored = StatusRecord.from_entity(record.to_entity(), None)
    assert restored.updated_at == T0
    assert restored.updated_at.tzinfo is not None


def test_entity_counters_stored_as_strings_are_read_as_integers() -> None:
    """Counters read back as text (e.g. from a hand-edited entity) are still integers."""
    entity = FULL.to_entity()
    for name in ("run", "step", "attempt", "max_attempts", "transient_failures"):
        entity[name] = str(entity[name])
    restored = StatusRecord.from_entity(entity, None)
    assert (restored.run, restored.step, restored.attempt) == (3, 7, 4)
    assert (restored.max_attempts, restored.transient_failures) == (12, 2)


# --- StatusRecord.to_api --------------------------------------------------------------------


def test_api_has_the_fields_the_spa_depends_on() -> None:
    """``to_api`` has every SPA field with its value (plus extras such as run and ids)."""
    answer = FULL.to_api()
    assert set(API_FIELDS) <= set(answer)
    assert answer["request_id"] == REQUEST_ID
    assert answer["phase"] == "creating_cluster"
    assert answer["attempt"] == 4
    assert answer["max_attempts"] == 12
    assert answer["resource_group"] == "rg-team-a"
    assert answer["cluster_name"] == "aks-team-a"
    assert answer["updated_at"] == "2024-05-06T07:11:09Z"
    assert answer["error"] == {
        "code": "QuotaExceeded",
        "message": "no cores",
        "correlation_id": "c",
        "details": ["d"],
    }
    assert answer["run"] == 3
    assert answer["resource_group_id"] == GROUP_ID
    assert answer["cluster_id"] == CLUSTER_ID


@pytest.mark.parametrize("phase", list(Phase))
def test_api_phase_is_the_plain_string(phase: Phase) -> None:
    """The phase is one of the four documented strings, JSON-serialisable as such."""
    answer = make_record(phase=phase).to_api()
    assert answer["phase"] in {"ensuring_resource_group", "creating_cluster", "succeeded", "failed"}
    assert json.loads(json.dumps(answer))["phase"] == phase.value


def test_api_without_error_or_names_uses_null() -> None:
    """No error is null, and an unknown group or cluster name is null rather than empty."""
    answer = make_record(resource_group="", cluster_name="").to_api()
    assert answer["error"] is None
    assert answer["resource_group"] is None
    assert answer["cluster_name"] is None


def test_api_hides_internal_bookkeeping() -> None:
    """Chain tokens, the request payload and the fingerprint are not exposed to the SPA."""
    answer = FULL.to_api()
    for internal in ("chain", "advanced_by", "request_json", "fingerprint", "operation_url"):
        assert internal not in answer


@pytest.mark.parametrize(
    ("phase", "terminal"),
    [
        (Phase.ENSURING_RESOURCE_GROUP, False),
        (Phase.CREATING_CLUSTER, False),
        (Phase.SUCCEEDED, True),
        (Phase.FAILED, True),
    ],
)
def test_only_succeeded_and_failed_are_terminal(phase: Phase, terminal: bool) -> None:
    """Succeeded and failed end a request; the two working phases do not."""
    assert phase.terminal is terminal
