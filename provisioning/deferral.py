"""What a step does when Table or Queue storage fails under it: the message comes back later.

A storage error is transient, but the step cannot write its record (the table is down) or
re-enqueue (the queue is down), and raising would let the host retry it every
``visibilityTimeout`` (5 s) until ``maxDequeueCount`` (5) is spent: 25 s of outage would poison
every message in flight. Instead the function pushes the message's own visibility out through
its pop receipt, within its lease, with back-off: ``STORAGE_RETRY_SECONDS`` doubled at each
delivery (60, 120, 240, 480 s by default, so the fifth delivery comes 15 minutes after the
first: an outage of up to 10 minutes ends before the budget does). The host then fails to
delete (or to release) the message with its now stale receipt, which it ignores; the message
keeps its id, so a redelivery after an ambiguous commit (the write landed, its answer did not)
is still recognised by ``advanced_by`` and finishes the hand-off.

When the queue itself is down the deferral fails too, and the error is raised: the host cannot
receive either, and the message comes back after its receive invisibility. On the last allowed
delivery it is raised as well, so the host poisons the message and the poison trigger decides.
The step's own budgets (visibility attempts, transient ARM errors) are not touched.
"""

from __future__ import annotations

import logging

from provisioning.errors import StorageUnavailable
from provisioning.messages import Delivery
from provisioning.ports import Lease
from provisioning.texts import log_text

log = logging.getLogger("provisioning")
MAX_DEQUEUE_COUNT = 5  # host.json extensions.queues.maxDequeueCount (a test keeps them equal)
MAX_DEFER_SECONDS = 15 * 60


def backoff(dequeue_count: int, first: int) -> int:
    """Seconds the ``dequeue_count``-th delivery (1-based) is pushed out: doubling, capped."""
    exponent = min(max(dequeue_count - 1, 0), 16)
    return int(min(MAX_DEFER_SECONDS, first * 2**exponent))


def defer_or_raise(
    delivery: Delivery, error: StorageUnavailable, lease: Lease | None, first: int
) -> None:
    """Push ``delivery`` out by its back-off, or re-raise ``error`` where that cannot help."""
    last = delivery.dequeue_count >= MAX_DEQUEUE_COUNT
    if lease is None or delivery.pop_receipt is None or last:
        raise error
    seconds = backoff(delivery.dequeue_count, first)
    try:
        lease.defer(delivery, seconds)
    except StorageUnavailable:
        raise error from None  # the queue is down too: the host's receive invisibility rules
    log.warning(
        "message %s: storage unavailable (%s); it comes back in %d s (delivery %d of %d)",
        log_text(delivery.id),
        log_text(error.info.message),
        seconds,
        delivery.dequeue_count,
        MAX_DEQUEUE_COUNT,
        extra={"outcome": "deferred", "error_code": error.info.code},
    )
