"""The whole bad-message corpus through one local host (tests/data/bad_messages).

Every case is sent as the SPA would put it on the wire (base64 of the body; ``wire_text`` cases
as given), each with its own request_id, all at once, and checked together: exactly one clear
error (a status when the request_id is readable, always a log line), zero ARM calls, one
invocation and no crash.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError

from localazure.arm import ArmEmulator
from provisioning.poison import wire_of
from tests.plugins.provisioner import Provisioner, start_with_a_live_request
from tests.plugins.reliability import FigureLog

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_messages"
CORPUS_REQUEST_ID = "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10"  # make_corpus.py's RID
QUEUE_LIMIT = 64 * 1024  # characters of message text the queue accepts


@dataclass(frozen=True)
class Sent:
    slug: str
    request_id: str
    readable: bool
    fields: tuple[str, ...]
    wire: str


def _wire(case: dict[str, Any], request_id: str) -> str:
    """The queue text for a case, with ``request_id`` in place of the corpus's one."""
    if "wire_text" in case:
        return str(case["wire_text"])
    if "body_json" in case:
        body = json.dumps(case["body_json"], ensure_ascii=False).encode("utf-8")
    elif "body_base64" in case:
        body = base64.b64decode(case["body_base64"], validate=True)
    else:
        body = str(case["body_text"]).encode("utf-8", "surrogatepass")
    body = body.replace(CORPUS_REQUEST_ID.encode(), request_id.encode())  # same length
    return base64.b64encode(body).decode("ascii")


def test_every_bad_message_gets_one_clear_error(
    provisioner: Provisioner, arm: ArmEmulator, figures: FigureLog
) -> None:
    """Each corpus message: one error, a status if readable, a log line, no ARM call, no retry."""
    sent: list[Sent] = []
    refused: list[str] = []
    cases = sorted(CORPUS.glob("*.json"))
    for path in cases:
        case = json.loads(path.read_text(encoding="utf-8"))
        request_id = str(uuid.uuid4())
        wire = _wire(case, request_id)
        try:
            provisioner.send_raw(wire)
        except HttpResponseError:
            # Only text past the queue's 64 KiB is refused, at the sender: never accepted,
            # so there is nothing to lose.
            assert len(wire) > QUEUE_LIMIT, path.stem
            refused.append(path.stem)
            continue
        assert len(wire) <= QUEUE_LIMIT, path.stem
        fields = tuple(case["expected_fields"])
        sent.append(Sent(path.stem, request_id, case["request_id_readable"], fields, wire))
    assert len(sent) >= 40

    rows = provisioner.wait_for_archive(len(sent), timeout=120)
    archived = Counter(wire_of(row) for row in rows)
    # Lost: sent and accepted by the queue, yet neither archived nor readable as an end.
    lost = sum(1 for m in sent if not archived[m.wire.encode()])
    assert len(rows) == len(sent)
    for message in sent:
        assert archived[message.wire.encode()] == 1, message.slug
    assert not arm.calls

    output = provisioner.host.output if provisioner.host else ""
    invocations = re.findall(r"Function\.provision: Trigger Details: .*DequeueCount: (\d+)", output)
    assert len(invocations) == len(sent)  # one invocation each
    assert set(invocations) == {"1"}  # nothing retried
    assert "Executed 'Functions.provision' (Failed" not in output  # no crash, no raise
    unreadable = [m for m in sent if not m.readable]
    assert output.count("request (unreadable) rejected: InvalidRequest") == len(unreadable)
    for message in sent:
        code, status = provisioner.status(message.request_id)
        if not message.readable:
            assert code == 404, message.slug  # nothing written under an id it did not carry
            continue
        assert code == 200, message.slug
        assert status["phase"] == "failed", message.slug
        assert status["error"]["code"] == "InvalidRequest", message.slug
        for field in message.fields:
            assert field in status["error"]["message"], (message.slug, field)
        assert f"request {message.request_id} rejected: InvalidRequest" in output, message.slug

    figures.record(
        section="Bad input",
        scenario=f"the bad-message corpus ({len(cases)} cases) through one host",
        requests=len(cases),
        messages=len(cases),
        lost=lost,
        duplicate_creates=len([c for c in arm.calls if c.method == "PUT"]),
        outcome=f"{len(sent)} rejected once each (one invocation, one log line, "
        f"{sum(m.readable for m in sent)} readable statuses, 0 ARM calls); "
        f"{len(refused)} refused by the queue at send (over 64 KiB)",
    )


def test_invalid_message_never_overwrites_a_live_request(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator, figures: FigureLog
) -> None:
    """A forged-attempt message with a live request's id is rejected; the live request goes on."""
    app, request = start_with_a_live_request(provisioner_factory, arm)
    app.send({**request, "attempt": 7})
    rows = app.wait_for_archive(1)
    assert rows[0]["PartitionKey"] == request["request_id"]
    assert rows[0]["reason"].startswith("InvalidRequest")
    status = app.wait_for(request["request_id"])
    assert status["phase"] == "succeeded", status
    assert status["attempt"] == 3  # the live run's own count, not the forged one
    figures.record(
        section="Bad input",
        scenario="forged attempt reusing a live request_id",
        requests=1,
        messages=2,
        outcome="forged message rejected and archived; live request succeeded untouched",
    )
