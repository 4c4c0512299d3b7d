"""Who may put messages on the request queue: the app's identity, the deployer and the principals
in ``trustedQueueSenders``, each with Storage Queue Data Message Sender on that queue only."""

from __future__ import annotations

import re

from tests.infra import bicep

APP_BICEP = bicep.INFRA / "app.bicep"
MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"  # Storage Queue Data Message Sender
# A top-level resource declaration up to its closing brace at column 0 (or "}]" for a loop).
RESOURCE = re.compile(r"^resource (\w+) '([^']+)' = (.*?)^\}\]?$", re.M | re.S)


def _assignments() -> dict[str, str]:
    source = APP_BICEP.read_text(encoding="utf-8")
    return {
        name: body
        for name, kind, body in RESOURCE.findall(source)
        if kind.startswith("Microsoft.Authorization/roleAssignments@")
    }


def test_the_sender_role_is_the_built_in_one() -> None:
    """app.bicep's storageQueueDataMessageSender is Azure's built-in role id."""
    assert f"var storageQueueDataMessageSender = '{MESSAGE_SENDER}'" in APP_BICEP.read_text()


def test_every_message_sender_assignment_is_on_the_request_queue_only() -> None:
    """No principal gets send rights on the account or another queue."""
    senders = {n: b for n, b in _assignments().items() if "storageQueueDataMessageSender" in b}
    assert set(senders) >= {"deployerQueueSender", "trustedQueueSender"}, sorted(senders)
    for name, body in senders.items():
        assert re.search(r"^\s*scope: requestQueue$", body, re.M), name


def test_trusted_senders_are_one_assignment_each_from_the_parameter() -> None:
    """trustedQueueSenders (object ids) become one assignment each, over that array only."""
    body = _assignments()["trustedQueueSender"]
    assert body.startswith("[for sender in trustedQueueSenders: {")
    assert re.search(r"principalId: sender$", body, re.M)
    main = (bicep.INFRA / "main.bicep").read_text(encoding="utf-8")
    assert "param trustedQueueSenders string = ''" in main  # empty: nobody else
