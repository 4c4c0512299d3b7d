"""Sizes through Azurite (issue 14, problem 3): a contract-valid 16 KiB body of emoji is stored,
and archived, by the real table service, which enforces 64 KiB per property as Azure does."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from provisioning.contract import MAX_MESSAGE_BYTES
from provisioning.poison import wire_of
from tests.plugins.provisioner import Provisioner, sample_request
from tests.unit.factories import body_size, non_ascii_at_limit


def test_a_16_kib_request_of_emoji_is_stored_and_succeeds(provisioner: Provisioner) -> None:
    """At the contract's 16 KiB, all emoji tags: the status record is written, the run ends."""
    request = non_ascii_at_limit(sample_request())
    assert body_size(request) > MAX_MESSAGE_BYTES - 8
    provisioner.send(json.dumps(request, ensure_ascii=False))
    status = provisioner.wait_for(request["request_id"], timeout=60)
    assert status["phase"] == "succeeded", status
    cluster = next(
        c.body for c in provisioner.arm_calls(request["resource_group"]) if c.status == 201
    )
    assert "🚀" * 10 in json.dumps(cluster["tags"], ensure_ascii=False)


def test_a_refused_16_kib_request_of_emoji_is_readable_and_archived(
    provisioner_factory: Callable[..., Provisioner],
) -> None:
    """The same body refused by policy: a readable failed status, and its text in the archive."""
    app = provisioner_factory(ALLOWED_LOCATIONS="northeurope")
    app.start()
    request = non_ascii_at_limit(sample_request())
    text = json.dumps(request, ensure_ascii=False)
    app.send(text)
    status = app.wait_for(request["request_id"], timeout=60)
    assert (status["phase"], status["error"]["code"]) == ("failed", "LocationNotAllowed")
    rows = app.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == request["request_id"]
    assert json.loads(base64.b64decode(wire_of(rows[0]))) == request
