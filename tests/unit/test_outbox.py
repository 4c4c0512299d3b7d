"""The Outbox's poison send when the poison queue does not exist yet (no I/O: a stand-in queue)."""

from __future__ import annotations

from typing import Any, cast

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueClient

from provisioning.storage import Outbox


class RacingPoisonQueue:
    """A poison queue that another invocation creates between our send and our create."""

    def __init__(self) -> None:
        self.exists = False
        self.sent: list[str] = []

    def send_message(self, text: str, **kwargs: Any) -> None:
        if not self.exists:
            self.exists = True  # the other invocation's create lands now
            raise ResourceNotFoundError("The specified queue does not exist.")
        self.sent.append(text)

    def create_queue(self) -> None:
        raise ResourceExistsError("Queue already exists")


def test_poison_send_survives_a_concurrent_creation_of_the_poison_queue() -> None:
    """First rejections of a batch race to create the poison queue: the loser still sends."""
    poison = RacingPoisonQueue()
    outbox = Outbox(cast(QueueClient, None), cast(QueueClient, poison))
    outbox.send_poison(b"bm90IGpzb24=")
    assert poison.sent == ["bm90IGpzb24="]
