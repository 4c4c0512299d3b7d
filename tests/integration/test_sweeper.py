"""The sweeper through the local host and Azurite (issue 14, problem 2): a stranded request is
re-armed and ends; ``-poison-poison`` is drained into the archive."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from provisioning.contract import parse_request
from provisioning.status import StatusRecord, utc_now
from provisioning.storage import StatusStore, TableDueIndex, ensure_table
from tests.plugins.provisioner import Provisioner, sample_request

FAST_SWEEP = {"SWEEPER_SCHEDULE": "*/2 * * * * *", "SWEEPER_OVERDUE_MINUTES": "0.05"}


def test_a_request_whose_message_was_lost_is_rearmed_and_succeeds(
    provisioner_factory: Callable[..., Provisioner],
) -> None:
    """A status record with no message left (its message was lost after the insert): ends."""
    app = provisioner_factory(**FAST_SWEEP)
    table = TableServiceClient.from_connection_string(
        app.azurite.connection_string
    ).get_table_client(app.settings["STATUS_TABLE_NAME"])
    ensure_table(table)
    request = sample_request()
    record = StatusRecord.accepted(
        parse_request(json.dumps(request)), advanced_by="lost", now=utc_now(), chain="lost"
    )
    store = StatusStore(table, TableDueIndex(table), first_look=timedelta(seconds=3))
    assert store.insert(record) is not None  # and no message: what a lost SPA message leaves
    app.start()
    status = app.wait_for(request["request_id"], timeout=90)
    assert status["phase"] == "succeeded", status
    output = app.host.output if app.host else ""
    assert "re-armed by the sweeper" in output
    assert "sweep: 1 overdue, 1 re-armed" in output


def test_poison_poison_is_drained_into_the_archive(
    provisioner_factory: Callable[..., Provisioner],
) -> None:
    """A body in -poison-poison (the poison trigger failed on it) lands in the archive."""
    app = provisioner_factory(**FAST_SWEEP)
    name = f"{app.queue_name}-poison-poison"
    queue = QueueClient.from_connection_string(app.azurite.connection_string, name)
    queue.create_queue()
    queue.send_message("left behind by the poison trigger")
    app.start()
    rows = app.wait_for_archive(1, timeout=60)
    assert rows[0]["PartitionKey"] == "_unreadable"
    assert rows[0]["reason"].startswith("PoisonPoison")
    assert rows[0]["queue"] == name
    deadline = time.monotonic() + 20
    while queue.get_queue_properties().approximate_message_count and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not queue.get_queue_properties().approximate_message_count
