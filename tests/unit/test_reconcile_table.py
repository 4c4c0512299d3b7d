"""The reconcile step and the poison trigger as tables: (record state x message kind) -> effect.

Each row seeds the in-memory status table with one record state, delivers one message kind, and
checks what happened: the table writes, the queue sends, the ARM calls and the log line. No
Azurite, no emulator: the shared fakes in ``tests/fakes.py`` keep the ETag rules.

The poison rows are a table of their own (``POISON_ROWS``): which messages may end a run is a
rule that changes on its own, and each of its rows says what it expects in one word.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

import pytest

from provisioning.decisions import app_tags
from provisioning.errors import ErrorInfo
from provisioning.identity import QUEUE, Requester
from provisioning.messages import ChainMessage, Delivery
from provisioning.poison import HOST_GAVE_UP, UNREADABLE
from provisioning.reconcile import handle
from provisioning.status import Phase, StatusRecord
from tests.fakes import MemoryStatusStore, World
from tests.unit.factories import (
    MAX_ATTEMPTS,
    REQUEST_ID,
    T0,
    group,
    make_request,
    make_settings,
)

REQUEST = make_request()
OTHER_PAYLOAD = make_request(node_count=5)  # same request_id, another cluster
CHAIN = "c" * 32
OTHER_CHAIN = "d" * 32
SPA_ID = "m-spa"  # the queue message id of the SPA's request
PREV_ID = "m-prev"  # the chain message that made the record's last write
NEXT_ID = "m-next"  # a chain message delivered now


def _wire(document: object) -> bytes:
    return base64.b64encode(json.dumps(document).encode())


SPA_WIRE = _wire(REQUEST.to_dict())


# --- record states ------------------------------------------------------------------------


def _accepted(**changes: object) -> StatusRecord:
    record = StatusRecord.accepted(REQUEST, advanced_by=PREV_ID, now=T0, run=2, chain=CHAIN)
    return replace(record, **changes)  # type: ignore[arg-type]


FAILED_ERROR = ErrorInfo("QuotaExceeded", "no cores left")
ALICE = Requester("user", "0a1b2c3d-0000-4000-8000-00000000a11c", "t", "alice@contoso.example")
STATES: dict[str, StatusRecord | None] = {
    "none": None,
    # The SPA's message inserted the record and its invocation died before committing step 0.
    "inserted": _accepted(advanced_by=SPA_ID),
    # The SPA's message committed step 0 -> 1 and died before sending the chain message.
    "spa-committed": _accepted(advanced_by=SPA_ID, step=1, attempt=2, next_delay=5),
    "checking": _accepted(step=3, attempt=3, next_delay=5),
    "watching": _accepted(
        phase=Phase.CREATING_CLUSTER,
        step=5,
        next_delay=30,
        operation_url="https://management.azure.com/operations/1",
        watch_started=T0,
    ),
    "succeeded": _accepted(phase=Phase.SUCCEEDED, step=7),
    "failed": _accepted(phase=Phase.FAILED, step=4, error=FAILED_ERROR),
    # Came through the HTTP front door (a verified requester), then failed.
    "failed-http": _accepted(phase=Phase.FAILED, step=4, error=FAILED_ERROR, requested_by=ALICE),
    # Refused on arrival by the SPA message itself (a setting disallowed it then).
    "rejected": StatusRecord.rejected(
        REQUEST,
        ErrorInfo("SubscriptionNotAllowed", "x"),
        wire=SPA_WIRE,
        advanced_by=SPA_ID,
        now=T0,
        max_attempts=MAX_ATTEMPTS,
    ),
}


# --- message kinds ------------------------------------------------------------------------


# What messages for a request the table never had are derived from.
NEVER_STORED = _accepted(step=3)


def _chain(record: StatusRecord, message_id: str, **changes: int | str) -> Delivery:
    message = ChainMessage(REQUEST_ID, record.run, record.chain, record.step, record.attempt)
    changed = replace(message, **changes)  # type: ignore[arg-type]
    return Delivery(message_id, base64.b64encode(changed.to_json().encode()), 1)


MESSAGES: dict[str, Callable[[StatusRecord], Delivery]] = {
    "spa-same-id": lambda r: Delivery(SPA_ID, SPA_WIRE, 1),
    "spa-new-id": lambda r: Delivery("m-spa-again", SPA_WIRE, 1),
    "spa-other-payload": lambda r: Delivery("m-spa-other", _wire(OTHER_PAYLOAD.to_dict()), 1),
    "chain-current": lambda r: _chain(r, NEXT_ID),
    # The message that made the last write, delivered again (its invocation died after commit).
    "chain-redelivered": lambda r: _chain(r, PREV_ID, step=r.step - 1),
    # A copy of that message under another id: it lost, it must not act.
    "chain-duplicate": lambda r: _chain(r, NEXT_ID, step=r.step - 1),
    "chain-stale-step": lambda r: _chain(r, NEXT_ID, step=r.step - 2),
    "chain-ahead": lambda r: _chain(r, NEXT_ID, step=r.step + 1),
    "chain-fork": lambda r: _chain(r, NEXT_ID, chain=OTHER_CHAIN),
    "chain-stale-run": lambda r: _chain(r, NEXT_ID, run=r.run - 1),
}


class Effect(Enum):
    NEW = "inserted, ran the first step, sent the next chain message"
    STEP = "ran the step, committed step + 1 under the ETag, sent the next chain message"
    REDRIVE = "a new run (fresh chain), ran its first step"
    STALE = "dropped: no write, no send, no ARM call"
    DUPLICATE = "ignored: no write, no send, no ARM call"
    CONFLICT = "another payload under a live id: poisoned, record untouched"
    HANDOFF = "redelivered after commit: sent the chain message the crash lost"
    HANDOFF_POISON = "redelivered after a failing commit: poisoned the message"
    HANDOFF_DONE = "redelivered after the final commit: nothing left to send"
    LOST_RACE = "another writer committed first: the ETag refused ours, no send"
    REDRIVE_LOST_RACE = "the re-drive's replace was refused: nothing else"
    REFUSED = "refused on arrival: a failed record if none existed, poisoned, no ARM call"


@dataclass(frozen=True)
class Row:
    state: str
    message: str
    effect: Effect
    race: bool = False  # another writer commits between this step's read and its write
    policy: str = "default"

    @property
    def id(self) -> str:
        return f"{self.state}-x-{self.message}{'-raced' if self.race else ''}-{self.policy}"


# state x message -> effect; "raced": another delivery commits between this one's read and write.
TABLE = """
    none          spa-same-id         NEW
    none          chain-current       STALE
    none          chain-redelivered   STALE
    inserted      spa-same-id         STEP              # redelivered before the first commit
    inserted      spa-new-id          DUPLICATE
    inserted      spa-other-payload   CONFLICT
    inserted      chain-current       STEP
    inserted      chain-fork          STALE
    inserted      spa-same-id         LOST_RACE         raced
    spa-committed spa-same-id         HANDOFF           # redelivered after the first commit
    spa-committed spa-new-id          DUPLICATE
    spa-committed chain-current       STEP
    spa-committed chain-duplicate     STALE
    checking      spa-new-id          DUPLICATE
    checking      spa-other-payload   CONFLICT
    checking      chain-current       STEP
    checking      chain-redelivered   HANDOFF
    checking      chain-duplicate     STALE
    checking      chain-stale-step    STALE
    checking      chain-ahead         STALE
    checking      chain-fork          STALE
    checking      chain-stale-run     STALE
    checking      chain-current       LOST_RACE         raced
    watching      spa-new-id          DUPLICATE
    watching      spa-other-payload   CONFLICT
    watching      chain-current       STEP
    watching      chain-redelivered   HANDOFF
    watching      chain-duplicate     STALE
    watching      chain-stale-step    STALE
    watching      chain-fork          STALE
    watching      chain-stale-run     STALE
    watching      chain-current       LOST_RACE         raced
    succeeded     spa-new-id          DUPLICATE
    succeeded     spa-other-payload   CONFLICT
    succeeded     chain-current       STALE
    succeeded     chain-redelivered   HANDOFF_DONE
    succeeded     chain-fork          STALE
    failed        spa-new-id          REDRIVE
    failed        spa-other-payload   CONFLICT
    failed        chain-current       STALE
    failed        chain-redelivered   HANDOFF_POISON
    failed        chain-stale-run     STALE
    failed        spa-new-id          REDRIVE_LOST_RACE raced
    failed-http   spa-new-id          REDRIVE           # `python -m provisioning redrive`
    failed-http   spa-other-payload   CONFLICT
    failed-http   chain-redelivered   HANDOFF_POISON
    rejected      spa-same-id         HANDOFF_POISON
    rejected      spa-new-id          REDRIVE
    rejected      spa-other-payload   CONFLICT
"""
# The same table under REQUEST_POLICY {"$queue": false}: the "$queue" rule judges only a request
# that no run ever admitted. A duplicate, a redelivery, a re-drive of a failed run (whoever sent
# it first) are not new requests, so they keep their effect.
POLICIES = {"default": {}, "queue-off": {"REQUEST_POLICY": '{"$queue": false}'}}
REFUSED_WHEN_QUEUE_IS_OFF = {
    ("none", "spa-same-id"),  # a new request
    ("rejected", "spa-new-id"),  # refused on arrival, sent again: never admitted
}
ROWS = [
    Row(
        state,
        message,
        Effect.REFUSED
        if policy == "queue-off" and (state, message) in REFUSED_WHEN_QUEUE_IS_OFF
        else Effect[effect],
        race == ["raced"],
        policy,
    )
    for policy in POLICIES
    for state, message, effect, *race in (
        line.split("#")[0].split() for line in TABLE.strip().splitlines()
    )
]
E = Effect

LOG_LINES = {
    E.STALE: "stale message dropped",
    E.DUPLICATE: "duplicate request ignored",
    E.CONFLICT: "RequestIdConflict",
    E.HANDOFF: "redelivered after a crash",
    E.HANDOFF_POISON: "redelivered after a crash",
    E.HANDOFF_DONE: "redelivered after a crash",
    E.LOST_RACE: "another delivery advanced this request first",
    E.REDRIVE: "re-driven as run",
    E.REDRIVE_LOST_RACE: "re-drive lost a race",
    E.REFUSED: "rejected: DirectQueueRequestsRefused",
}


class RacingStatusStore(MemoryStatusStore):
    """The status table while another delivery commits between our read and our write."""

    def replace(self, record: StatusRecord) -> StatusRecord | None:
        current = self.records[record.request_id]
        self._store(replace(current, step=current.step + 1, advanced_by="m-racer"))
        return super().replace(record)


def _world(race: bool, policy: str = "default", owner: StatusRecord | None = None) -> World:
    world = World(settings=make_settings(**POLICIES[policy]), now=T0)
    if race:
        world.status = RacingStatusStore()
    # Visible and made for this request's requester: a step can go on to AKS.
    tags = app_tags(REQUEST_ID, owner.requested_by if owner else QUEUE)
    world.arm.groups["rg-team-a"] = group(tags=tags)
    return world


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_reconcile_step(row: Row, caplog: pytest.LogCaptureFixture) -> None:
    """One (record state, message kind) pair has exactly the effect its row names."""
    before = STATES[row.state]
    world = _world(row.race, row.policy, before)
    if before is not None:
        world.status.seed(before)
        before = world.status.records[REQUEST_ID]  # with the ETag the table gave it
    delivery = MESSAGES[row.message](before or NEVER_STORED)
    writes = world.status.writes
    caplog.set_level(logging.INFO, logger="provisioning")

    handle(delivery, world.deps)

    after = world.status.records.get(REQUEST_ID)
    if row.effect in LOG_LINES:
        assert LOG_LINES[row.effect] in caplog.text
    if row.effect in (E.NEW, E.STEP, E.REDRIVE):
        _ran_a_step(row.effect, before, after, delivery, world)
        return
    if row.effect is E.REFUSED:
        _refused(before, after, delivery, world)
        return
    assert not world.outbox.poisoned or row.effect in (E.CONFLICT, E.HANDOFF_POISON)
    if row.effect is E.LOST_RACE:
        assert world.arm.calls, "the step ran before its write lost"
        assert after is not None and after.advanced_by == "m-racer"
        assert not world.outbox.chained
        return
    assert not world.arm.calls
    if row.effect is E.REDRIVE_LOST_RACE:
        assert before is not None and after is not None
        assert (after.advanced_by, after.run) == ("m-racer", before.run)
        assert not world.outbox.chained
        return
    assert world.status.writes == writes, "this message must not write the record"
    assert after == before
    if row.effect is E.HANDOFF:
        assert after is not None
        assert [(m.step, m.chain, delay) for m, delay in world.outbox.chained] == [
            (after.step, after.chain, after.next_delay)
        ]
    else:
        assert not world.outbox.chained
    expected_poison = [delivery.wire] if row.effect in (E.CONFLICT, E.HANDOFF_POISON) else []
    assert world.outbox.poisoned == expected_poison


def _ran_a_step(
    effect: Effect,
    before: StatusRecord | None,
    after: StatusRecord | None,
    delivery: Delivery,
    world: World,
) -> None:
    assert after is not None
    assert world.arm.calls, "a step looks at ARM"
    assert after.advanced_by == delivery.id
    assert after.phase is Phase.CREATING_CLUSTER  # the group was visible: AKS create started
    if effect is E.STEP:
        assert before is not None
        assert (after.run, after.chain, after.step) == (before.run, before.chain, before.step + 1)
    else:  # a fresh run: new chain token, step 0 committed
        assert after.run == (1 if before is None else before.run + 1)
        assert after.step == 1
        assert before is None or after.chain != before.chain
    if before is not None:
        assert after.requested_by == before.requested_by  # a re-drive is still theirs
    assert [(m.run, m.chain, m.step) for m, _ in world.outbox.chained] == [
        (after.run, after.chain, after.step)
    ]
    assert not world.outbox.poisoned


def _refused(
    before: StatusRecord | None, after: StatusRecord | None, delivery: Delivery, world: World
) -> None:
    assert not world.arm.calls
    assert not world.outbox.chained
    assert world.outbox.poisoned == [delivery.wire]
    assert after is not None and after.phase is Phase.FAILED
    if before is None:
        assert after.error is not None and after.error.code == "DirectQueueRequestsRefused"
    else:
        assert after == before  # the failed record already there is kept as it was


# --- the poison trigger -------------------------------------------------------------------


class Ends(Enum):
    RUN = "marks the live run failed with PoisonMessage"
    NOTHING = "archives only: the record stays as it was"
    INSERTS = "records a never-seen request as failed on arrival"


# The baton rule (issue 14): only the live run's current baton (its chain, run and step, the
# step not done) ends the run; a payload ends a request only if no run ever accepted it; any
# other message is archived "Stale" and the record is left alone. Each row is (state, message
# kind, what it ends, the archive reason's code). Only this table changes with the rule.
POISON_ROWS = [
    # The inserted record's payload was accepted: it never ends the run (the sweeper re-arms).
    ("inserted", "spa-same-id", Ends.NOTHING, "Stale"),
    ("inserted", "chain-current", Ends.RUN, "PoisonMessage"),
    ("checking", "chain-current", Ends.RUN, "PoisonMessage"),
    ("checking", "chain-duplicate", Ends.NOTHING, "Stale"),  # its step was done (issue 14 a)
    ("checking", "chain-stale-step", Ends.NOTHING, "Stale"),
    ("checking", "spa-new-id", Ends.NOTHING, "Stale"),  # a copy of the payload (issue 14 c)
    ("checking", "spa-same-id", Ends.NOTHING, "Stale"),  # run 1's payload, run 2 live (b)
    ("checking", "chain-fork", Ends.NOTHING, "Stale"),
    ("checking", "chain-stale-run", Ends.NOTHING, "Stale"),
    ("checking", "spa-other-payload", Ends.NOTHING, "RequestIdConflict"),
    ("watching", "chain-current", Ends.RUN, "PoisonMessage"),
    ("watching", "chain-redelivered", Ends.NOTHING, "Stale"),
    ("watching", "chain-fork", Ends.NOTHING, "Stale"),
    ("watching", "chain-stale-run", Ends.NOTHING, "Stale"),
    ("succeeded", "chain-current", Ends.NOTHING, "Stale"),
    ("succeeded", "spa-new-id", Ends.NOTHING, "Stale"),
    ("failed", "chain-current", Ends.NOTHING, "QuotaExceeded"),
    ("failed", "chain-redelivered", Ends.NOTHING, "QuotaExceeded"),
    ("failed", "chain-fork", Ends.NOTHING, "Stale"),
    ("rejected", "spa-same-id", Ends.NOTHING, "SubscriptionNotAllowed"),
    ("none", "spa-same-id", Ends.INSERTS, "PoisonMessage"),
    ("none", "chain-current", Ends.NOTHING, "Stale"),
]


@pytest.mark.parametrize(
    ("state", "message", "ends", "reason"),
    POISON_ROWS,
    ids=[f"{state}-x-{message}" for state, message, _, _ in POISON_ROWS],
)
def test_poison_trigger(state: str, message: str, ends: Ends, reason: str) -> None:
    """A poisoned message is archived once with its reason; only its own run's message ends it."""
    world = _world(race=False)
    before = STATES[state]
    if before is not None:
        world.status.seed(before)
        before = world.status.records[REQUEST_ID]
    delivery = MESSAGES[message](before or NEVER_STORED)

    world.poison(delivery)

    [row] = world.archive.rows
    assert row["PartitionKey"] == REQUEST_ID
    assert row["reason"].split(":", 1)[0] == reason
    after = world.status.records.get(REQUEST_ID)
    if ends is Ends.RUN:
        assert before is not None and after is not None
        assert after.phase is Phase.FAILED
        assert after.error == HOST_GAVE_UP
        assert (after.run, after.chain, after.step) == (before.run, before.chain, before.step + 1)
    elif ends is Ends.INSERTS:
        assert after is not None and after.phase is Phase.FAILED and after.error == HOST_GAVE_UP
        assert after.fingerprint == REQUEST.fingerprint()
    else:
        assert after == before


def test_poison_trigger_archives_an_unreadable_body_under_its_own_key() -> None:
    """Text that is not base64 has no request: archived under _unreadable, nothing written."""
    world = _world(race=False)
    world.poison(Delivery("m-x", b"not base64!", 3))
    [row] = world.archive.rows
    assert row["PartitionKey"] == UNREADABLE
    assert row["reason"].startswith("InvalidRequest")
    assert not world.status.records


def test_the_tables_cover_the_issue_s_cases() -> None:
    """At least 40 reconcile rows, every effect reached, every message kind used."""
    assert len(ROWS) >= 40
    assert {row.effect for row in ROWS} == set(Effect)
    assert {row.message for row in ROWS} == set(MESSAGES)
    assert {row.state for row in ROWS} == set(STATES)
    assert len({row.id for row in ROWS}) == len(ROWS)
