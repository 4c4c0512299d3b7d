"""The app's triggers: thin adapters from the Functions bindings to plain data and handlers."""

from __future__ import annotations

import logging

import azure.functions as func

from provisioning.messages import Delivery
from provisioning.poison import handle_poison
from provisioning.reconcile import handle
from provisioning.runtime import get_runtime
from provisioning.settings import get_settings
from provisioning.storage import CONNECTION

bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("provisioning")


def _delivery(msg: func.QueueMessage) -> Delivery:
    # host.json's messageEncoding is none: this is the message text as queued (see decode_wire).
    return Delivery(
        id=str(msg.id),
        wire=msg.get_body(),
        dequeue_count=msg.dequeue_count or 0,
        pop_receipt=msg.pop_receipt,
    )


@bp.queue_trigger(arg_name="msg", queue_name="%PROVISIONING_QUEUE_NAME%", connection=CONNECTION)
def provision(msg: func.QueueMessage) -> None:
    """One reconcile step for the request this message wakes up."""
    handle(_delivery(msg), get_runtime().deps)


@bp.queue_trigger(
    arg_name="msg", queue_name="%PROVISIONING_QUEUE_NAME%-poison", connection=CONNECTION
)
def archive_poison(msg: func.QueueMessage) -> None:
    """Archive a poisoned body and end the request it belongs to."""
    runtime = get_runtime()
    settings = get_settings()
    handle_poison(
        _delivery(msg),
        runtime.deps.status,
        runtime.archive,
        settings.poison_queue_name,
        runtime.poison_lease,
        settings.storage_retry_seconds,
        max_attempts=settings.rg_visibility_attempts,
    )
