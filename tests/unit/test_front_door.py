"""The HTTP front door over the in-memory fakes and a real token validator: every answer.

Refusals must leave no trace: no status record, no listing row, no queue message, no slot.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from localazure.entra import Principal, Tenant, app_principal, mint_access_token, user_principal
from provisioning.contract import example_request
from provisioning.front_door import FrontDoor
from provisioning.status import Phase
from tests.fakes import (
    MemoryDirectory,
    MemoryOutbox,
    MemoryRequesterIndex,
    MemoryStatusStore,
    memory_validator,
)
from tests.unit.factories import SUBSCRIPTION, T0, make_settings

TENANT = Tenant("https://login.example.test")
AUDIENCE = "6b1c3e2a-8f4d-4c59-a7e0-2d9b5f13c8e4"
ALICE = user_principal("alice@contoso.example")
BOB = user_principal("bob@contoso.example")
OPERATOR = app_principal("operator")
REQUEST = ("Provisioning.Request",)
READ_ALL = ("Provisioning.ReadAll",)


@dataclass
class Door:
    settings_env: dict[str, str] = field(default_factory=dict)
    status: MemoryStatusStore = field(default_factory=MemoryStatusStore)
    requesters: MemoryRequesterIndex = field(default_factory=MemoryRequesterIndex)
    outbox: MemoryOutbox = field(default_factory=MemoryOutbox)

    @property
    def door(self) -> FrontDoor:
        validator, _ = memory_validator(MemoryDirectory(TENANT), AUDIENCE)
        return FrontDoor(
            settings=make_settings(**self.settings_env),
            authenticator=validator,
            status=self.status,
            requesters=self.requesters,
            outbox=self.outbox,
            clock=lambda: T0,
        )

    def untouched(self) -> bool:
        return not (
            self.status.records
            or self.requesters.listed
            or self.outbox.chained
            or self.requesters.slots_by_key
        )


def bearer(principal: Principal = ALICE, roles: tuple[str, ...] = REQUEST, **options: Any) -> str:
    options.setdefault("audience", AUDIENCE)
    return f"Bearer {mint_access_token(TENANT, principal, roles=roles, **options)}"


def body(**overrides: Any) -> bytes:
    request = {
        **example_request(),
        "subscription_id": SUBSCRIPTION,
        "request_id": str(uuid.uuid4()),
        **overrides,
    }
    return json.dumps({k: v for k, v in request.items() if v is not None}).encode()


def test_an_accepted_request_is_202_with_location_and_a_wake_up_for_step_0() -> None:
    """202, Location and Retry-After; the record names the requester; one chain message, step 0."""
    state = Door()
    answer = state.door.submit(bearer(), body())
    assert answer.status == 202
    request_id = answer.body["request_id"]
    assert answer.headers["Location"] == f"/api/provisioning/{request_id}"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.body["requested_by"] == {
        "kind": "user",
        "oid": ALICE.oid,
        "tid": TENANT.tenant_id,
        "name": "alice@contoso.example",
    }
    record = state.status.get(request_id)
    assert record is not None and record.requested_by.oid == ALICE.oid
    [(message, delay)] = state.outbox.chained
    assert (message.request_id, message.chain, message.step, delay) == (
        request_id,
        record.chain,
        0,
        0,
    )
    assert request_id in state.requesters.listed[ALICE.oid]
    assert request_id in state.requesters.listed["$all"]


def test_a_body_without_request_id_gets_one() -> None:
    """request_id is optional on the front door: the app makes one."""
    answer = Door().door.submit(bearer(), body(request_id=None))
    assert answer.status == 202
    assert uuid.UUID(answer.body["request_id"])


def test_a_body_without_request_id_is_checked_as_sent() -> None:
    """The body is read once, as sent: a key given twice is refused with or without a
    request_id (it was lost when the body was decoded and encoded again to add the id)."""
    sent = body(request_id=None).decode()
    doubled = sent.replace('"location": ', '"location": "westeurope", "location": ', 1).encode()
    for document in (
        doubled,
        doubled.replace(b"{", b'{"request_id": "%s", ' % str(uuid.uuid4()).encode(), 1),
    ):
        state = Door()
        answer = state.door.submit(bearer(), document)
        assert answer.status == 400, answer.body
        details = answer.body["error"]["details"]
        assert details == ["location: is given more than once; the value is ambiguous"]
        assert state.untouched()


def test_the_same_payload_again_is_the_same_record() -> None:
    """Idempotent: the same id and payload answer the same record and write nothing new."""
    state = Door()
    sent = body()
    first = state.door.submit(bearer(), sent)
    writes = state.status.writes
    again = state.door.submit(bearer(), sent)
    assert again.status == 202
    assert again.body == first.body
    assert state.status.writes == writes


@pytest.mark.parametrize("who", ["other payload", "other requester"])
def test_the_same_id_otherwise_is_a_conflict(who: str) -> None:
    """Another payload, or another requester, under a taken id: 409 RequestIdConflict."""
    state = Door()
    request_id = str(uuid.uuid4())
    state.door.submit(bearer(), body(request_id=request_id))
    if who == "other payload":
        answer = state.door.submit(bearer(), body(request_id=request_id, location="northeurope"))
    else:
        answer = state.door.submit(bearer(BOB), body(request_id=request_id))
    assert answer.status == 409
    assert answer.body["error"]["code"] == "RequestIdConflict"


def test_an_invalid_request_is_400_naming_every_bad_field() -> None:
    """400 InvalidRequest with each bad field in details; nothing is written."""
    state = Door()
    answer = state.door.submit(
        bearer(), body(location="", cluster={"name": "-bad-", "node_count": 0})
    )
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequest"
    fields = " ".join(answer.body["error"]["details"])
    for name in ("location", "cluster.name", "cluster.node_count"):
        assert name in fields
    assert state.untouched()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer x.y.z", bearer(now=0), bearer(audience="api://other")],
)
def test_a_missing_or_invalid_token_is_401_with_www_authenticate(
    authorization: str | None,
) -> None:
    """401 with WWW-Authenticate: Bearer error="invalid_token"; the reason never echoes it."""
    state = Door()
    answer = state.door.submit(authorization, body())
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    if authorization:
        token = authorization.split()[-1]
        assert token.split(".")[-1] not in json.dumps(answer.body)
    assert state.untouched()


def test_a_token_without_the_request_role_is_403() -> None:
    """A valid token with only ReadAll may not submit: 403 MissingAppRole."""
    state = Door()
    answer = state.door.submit(bearer(OPERATOR, READ_ALL), body())
    assert answer.status == 403
    assert answer.body["error"]["code"] == "MissingAppRole"
    assert state.untouched()


def test_outside_the_policy_is_403_with_the_rules_code() -> None:
    """A VM size outside the caller's rule: 403 VmSizeNotAllowed, nothing written."""
    policy = {"Provisioning.Request": {"vm_sizes": ["Standard_D2s_v5"]}}
    state = Door({"REQUEST_POLICY": json.dumps(policy)})
    answer = state.door.submit(bearer(), body())
    assert answer.status == 403
    assert answer.body["error"]["code"] == "VmSizeNotAllowed"
    assert state.untouched()


def test_a_full_quota_is_429_until_one_request_ends() -> None:
    """max_in_flight 2: the third live request is 429 with Retry-After; after one ends, 202."""
    state = Door({"MAX_IN_FLIGHT_PER_REQUESTER": "2"})
    accepted = [state.door.submit(bearer(), body()) for _ in range(2)]
    assert [a.status for a in accepted] == [202, 202]
    third = state.door.submit(bearer(), body())
    assert third.status == 429
    assert third.body["error"]["code"] == "TooManyRequestsInFlight"
    assert int(third.headers["Retry-After"]) > 0
    assert state.door.submit(bearer(BOB), body()).status == 202  # per requester
    done = state.status.get(accepted[0].body["request_id"])
    assert done is not None
    state.status.replace(replace(done, phase=Phase.SUCCEEDED))
    assert state.door.submit(bearer(), body()).status == 202


def test_someone_elses_request_is_404_like_an_unknown_one() -> None:
    """Bob gets the same 404 for Alice's request as for an unknown id; ReadAll sees it."""
    state = Door()
    request_id = state.door.submit(bearer(), body()).body["request_id"]
    hidden = state.door.get(bearer(BOB), request_id)
    unknown_id = str(uuid.uuid4())
    unknown = state.door.get(bearer(BOB), unknown_id)
    assert hidden.status == unknown.status == 404
    assert hidden.body["error"]["code"] == unknown.body["error"]["code"] == "RequestNotFound"
    assert json.dumps(hidden.body).replace(request_id, unknown_id) == json.dumps(unknown.body)
    assert state.door.get(bearer(), request_id).status == 200
    assert state.door.get(bearer(OPERATOR, READ_ALL), request_id).status == 200


def test_listing_shows_only_ones_own_requests_newest_first_in_pages() -> None:
    """GET /api/provisioning: the caller's own, newest first, paged with continuation."""
    state = Door()
    mine = []
    for minute in range(3):
        door = replace(state.door, clock=functools.partial(T0.replace, minute=minute))
        mine.append(door.submit(bearer(), body()).body["request_id"])
    state.door.submit(bearer(BOB), body())
    first = state.door.list(bearer(), {"page_size": "2"})
    assert [item["request_id"] for item in first.body["items"]] == mine[::-1][:2]
    rest = state.door.list(bearer(), {"page_size": "2", "continuation": first.body["continuation"]})
    assert [item["request_id"] for item in rest.body["items"]] == mine[:1]
    assert rest.body["continuation"] is None


def test_listing_everything_needs_read_all() -> None:
    """?all=true is 403 without Provisioning.ReadAll and lists every request with it."""
    state = Door()
    state.door.submit(bearer(), body())
    state.door.submit(bearer(BOB), body())
    assert state.door.list(bearer(), {"all": "true"}).status == 403
    everything = state.door.list(bearer(OPERATOR, READ_ALL), {"all": "true"})
    assert len(everything.body["items"]) == 2


@pytest.mark.parametrize("raw_id", ["", "not-a-uuid", "{" + str(uuid.UUID(int=1)) + "}"])
def test_a_malformed_id_is_400(raw_id: str) -> None:
    """GET with an id that is not a canonical UUID: 400 InvalidRequestId."""
    answer = Door().door.get(bearer(), raw_id)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "InvalidRequestId"


def test_a_renamed_user_retrying_gets_the_same_record() -> None:
    """Idempotency is by who (the oid), not by a display name that may change between tries."""
    state = Door()
    sent = body()
    first = state.door.submit(bearer(), sent)
    renamed = bearer(overrides={"preferred_username": "alice.smith@contoso.example"})
    again = state.door.submit(renamed, sent)
    assert (again.status, again.body["request_id"]) == (202, first.body["request_id"])
