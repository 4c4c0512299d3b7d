"""The sweeper (issue 14, problem 2), over the shared in-memory fakes: no I/O, a fixed clock."""

from __future__ import annotations

import base64
import itertools
import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from provisioning.contract import example_request
from provisioning.due_index import PREFIX, DueEntry, due_filter, slot_of
from provisioning.messages import ChainMessage, Delivery
from provisioning.reconcile import handle
from provisioning.settings import Settings, SettingsError
from provisioning.status import Phase, StatusRecord
from provisioning.sweeper import (
    REARMED_BY,
    SweepDeps,
    Verdict,
    judge,
    sweep,
)
from tests.fakes import MemoryDrain, MemoryDueIndex, World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_record, make_settings

SETTINGS = make_settings(SWEEPER_OVERDUE_MINUTES="10", STATUS_RETENTION_DAYS="30")
MARGIN = timedelta(minutes=10)


def _deps(world: World, index: MemoryDueIndex, drain: MemoryDrain | None = None) -> SweepDeps:
    tokens = (f"rearmed-{n}" for n in itertools.count(1))
    return SweepDeps(
        settings=SETTINGS,
        status=world.status,
        index=index,
        outbox=world.outbox,
        archive=world.archive,
        drain=drain or MemoryDrain(),
        clock=lambda: world.now,
        new_chain=lambda: next(tokens),
    )


def _stored(world: World, **changes: object) -> StatusRecord:
    stored = world.status.insert(make_record(chain="original", **changes))
    assert stored is not None
    return stored


# ---- the pure rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "now", "verdict", "next_look"),
    [
        ({}, T0 + timedelta(minutes=9), Verdict.WAIT, T0 + MARGIN),
        ({}, T0 + MARGIN, Verdict.REARM, T0 + 2 * MARGIN),
        ({"next_delay": 900}, T0 + MARGIN, Verdict.WAIT, T0 + timedelta(minutes=25)),
        ({"next_delay": 900}, T0 + timedelta(minutes=25), Verdict.REARM, None),
        ({"phase": Phase.SUCCEEDED}, T0 + MARGIN, Verdict.WAIT, T0 + timedelta(days=30)),
        ({"phase": Phase.FAILED}, T0 + timedelta(days=30), Verdict.EXPIRE, None),
    ],
)
def test_judge(
    changes: dict[str, object], now: datetime, verdict: Verdict, next_look: object
) -> None:
    """Overdue = its due time (last write + the delay it set) plus the margin; ended = retained."""
    judgement = judge(make_record(**changes), now, SETTINGS)
    assert judgement.verdict is verdict
    if next_look is not None:
        assert judgement.next_look == next_look


def test_judge_forgets_a_missing_record() -> None:
    """An index entry without its record (inserted, then the insert failed) is dropped."""
    assert judge(None, T0, SETTINGS).verdict is Verdict.FORGET


def test_the_index_is_a_key_range_of_minutes_after_every_request_id() -> None:
    """Entries sort after any UUID, by minute; the query is a PartitionKey range, not a scan."""
    assert slot_of(T0) == PREFIX + "20240506T0708"
    assert max("ffffffff-ffff-4fff-bfff-ffffffffffff", PREFIX) == PREFIX
    assert due_filter(T0) == f"PartitionKey ge '{PREFIX}' and PartitionKey le '~due-20240506T0708'"


# ---- a tick -------------------------------------------------------------------------------


def test_an_overdue_record_is_rearmed_once_and_the_late_original_is_dropped() -> None:
    """Re-armed under its ETag with a new chain; the original message, late, cannot act."""
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    stored = _stored(world, step=3, next_delay=5)
    index.file(REQUEST_ID, T0 + MARGIN)
    world.now = T0 + timedelta(minutes=11)
    counts = sweep(_deps(world, index))
    assert (counts.overdue, counts.rearmed) == (1, 1)
    record = world.status.get(REQUEST_ID)
    assert record is not None
    assert (record.chain, record.step, record.advanced_by) == ("rearmed-1", 3, REARMED_BY)
    message, delay = world.outbox.chained[-1]
    assert (message.chain, message.step, delay) == ("rearmed-1", 3, 0)
    assert index.entries == {DueEntry(REQUEST_ID, slot_of(world.now + MARGIN))}
    # The original baton of step 3 arrives late: stale, it changes nothing and sends nothing.
    late = ChainMessage(REQUEST_ID, stored.run, "original", 3, 1)
    wire = base64.b64encode(late.to_json().encode())
    sent = len(world.outbox.chained)
    handle(Delivery("late", wire, 1), world.deps)
    assert world.status.get(REQUEST_ID) == record
    assert len(world.outbox.chained) == sent


def test_a_rearm_that_loses_the_etag_race_leaves_the_record_alone() -> None:
    """The original wrote first: the sweeper's write fails, nothing is sent."""
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    stored = _stored(world)
    index.file(REQUEST_ID, T0)
    world.now = T0 + timedelta(minutes=11)

    class Racing:
        """The status store, with the original's write landing between read and re-arm."""

        def get(self, request_id: str) -> StatusRecord | None:
            record = world.status.get(request_id)
            world.status.replace(replace(stored, step=1))
            return record

        def __getattr__(self, name: str) -> object:
            return getattr(world.status, name)

    deps = replace(_deps(world, index), status=Racing())  # type: ignore[arg-type]
    counts = sweep(deps)
    assert (counts.overdue, counts.rearmed) == (1, 0)
    assert not world.outbox.chained
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.chain == "original"


def test_a_record_not_yet_due_is_filed_again_at_its_due_time() -> None:
    """Not overdue: no write to the record, the entry moves to its due time plus the margin."""
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    _stored(world, next_delay=900, updated_at=T0 + timedelta(minutes=5))
    index.file(REQUEST_ID, T0)
    world.now = T0 + timedelta(minutes=10)
    writes = world.status.writes
    counts = sweep(_deps(world, index))
    assert counts.overdue == 0
    assert world.status.writes == writes
    assert index.entries == {DueEntry(REQUEST_ID, slot_of(T0 + timedelta(minutes=30)))}


def test_an_entry_filed_again_in_the_same_minute_is_kept() -> None:
    """Re-filed into its own minute (a short margin): the entry is the same and must stay."""
    world = World(make_settings(SWEEPER_OVERDUE_MINUTES="0.05"), T0)
    index = MemoryDueIndex()
    _stored(world)
    index.file(REQUEST_ID, T0)
    deps = replace(_deps(world, index), settings=world.settings)
    assert sweep(deps).looked == 1  # not overdue yet (3 s): filed at T0 + 3 s, same minute
    assert index.entries == {DueEntry(REQUEST_ID, slot_of(T0))}


def test_retention_deletes_ended_records_and_their_archive() -> None:
    """Ended and past STATUS_RETENTION_DAYS: the record and its archived bodies go."""
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    _stored(world, phase=Phase.FAILED)
    world.archive.put({"PartitionKey": REQUEST_ID, "RowKey": "0001-x", "archived_at": "x"})
    index.file(REQUEST_ID, T0 + MARGIN)
    world.now = T0 + MARGIN
    assert sweep(_deps(world, index)).deleted == 0  # ended, not yet expired: filed at expiry
    assert index.entries == {DueEntry(REQUEST_ID, slot_of(T0 + timedelta(days=30)))}
    world.now = T0 + timedelta(days=30)
    assert sweep(_deps(world, index)).deleted == 2
    assert world.status.get(REQUEST_ID) is None
    assert not world.archive.rows
    assert not index.entries


def test_poison_poison_is_drained_into_the_archive(caplog: pytest.LogCaptureFixture) -> None:
    """Bodies the poison trigger failed on are archived (PoisonPoison), deleted, and logged."""
    world = World(SETTINGS, T0)
    body = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    wire = base64.b64encode(json.dumps(body).encode())
    drain = MemoryDrain(wire, b"not base64 at all")
    caplog.set_level(logging.INFO, logger="provisioning.sweeper")
    counts = sweep(_deps(world, MemoryDueIndex(), drain))
    assert counts.drained == 2
    assert not drain.messages
    reasons = {row["PartitionKey"]: row["reason"] for row in world.archive.rows}
    assert reasons[REQUEST_ID].startswith("PoisonPoison")
    assert reasons["_unreadable"].startswith("PoisonPoison")
    tick = [r for r in caplog.records if getattr(r, "outcome", None) == "sweep"]
    assert len(tick) == 1 and getattr(tick[0], "drained", None) == 2
    drained = [r for r in caplog.records if getattr(r, "outcome", None) == "poison_poison"]
    assert len(drained) == 2
    record = world.status.get(REQUEST_ID)  # a payload no run accepted: readable, failed
    assert record is not None and record.phase is Phase.FAILED and record.error is not None
    assert record.error.code == "PoisonPoison"


def test_a_drained_payload_gets_its_attempts_from_the_settings() -> None:
    """The failed record of a drained payload says ``max_attempts`` as an accepted one would
    (``RG_VISIBILITY_ATTEMPTS``), not the dataclass's own default."""
    settings = make_settings(RG_VISIBILITY_ATTEMPTS="7")
    world = World(settings, T0)
    body = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    drain = MemoryDrain(base64.b64encode(json.dumps(body).encode()))
    assert sweep(replace(_deps(world, MemoryDueIndex(), drain), settings=settings)).drained == 1
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.phase is Phase.FAILED
    assert (record.max_attempts, record.to_api()["max_attempts"]) == (7, 7)


def test_a_drained_body_of_a_recorded_request_leaves_the_record_alone() -> None:
    """The request has a record: the drained body is archived only."""
    world = World(SETTINGS, T0)
    stored = _stored(world)
    body = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    drain = MemoryDrain(base64.b64encode(json.dumps(body).encode()))
    assert sweep(_deps(world, MemoryDueIndex(), drain)).drained == 1
    assert world.status.get(REQUEST_ID) == stored


def test_a_stranded_request_is_rearmed_and_ends() -> None:
    """A step committed, then its next message was lost: the sweeper's baton carries it on."""
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    body = {**example_request(), "request_id": REQUEST_ID, "subscription_id": SUBSCRIPTION}
    world.arm.fail("get_group", None, "ConnectionReset")  # a transient error: retry in 5 s
    handle(Delivery("spa", base64.b64encode(json.dumps(body).encode()), 1), world.deps)
    world.outbox.chained.clear()  # ...and that message is lost
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.next_delay is not None
    index.file(REQUEST_ID, record.created_at + MARGIN)
    world.now = record.updated_at + timedelta(seconds=record.next_delay) + MARGIN
    assert sweep(_deps(world, index)).rearmed == 1
    handle(world.outbox.chain_delivery(), world.deps)
    record = world.status.get(REQUEST_ID)
    assert record is not None and record.phase is Phase.CREATING_CLUSTER


def test_sweeper_settings_have_defaults_and_refuse_unix_cron() -> None:
    """Defaults: every 5 minutes, 15 minutes late, 90 days; a 5-field schedule is refused."""
    defaults = Settings.from_env({})
    assert (defaults.sweeper_schedule, defaults.sweeper_overdue_minutes) == ("0 */5 * * * *", 15)
    assert defaults.status_retention_days == 90
    with pytest.raises(SettingsError, match="SWEEPER_SCHEDULE"):
        Settings.from_env({"SWEEPER_SCHEDULE": "*/5 * * * *"})
    with pytest.raises(SettingsError, match="STATUS_RETENTION_DAYS"):
        Settings.from_env({"STATUS_RETENTION_DAYS": "0"})
