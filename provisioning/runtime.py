"""Builds the process's clients once: credentials, ARM and storage clients are reused by every
invocation, so a warm instance fetches one token per audience, not one per message."""

from __future__ import annotations

import logging
import os
import random
import threading
from dataclasses import dataclass
from datetime import timedelta

from azure.identity import DefaultAzureCredential

from provisioning.arm import Arm
from provisioning.bearer import token_validator
from provisioning.credentials import SharedTokenCredential
from provisioning.front_door import FrontDoor
from provisioning.messages import new_chain_token
from provisioning.reconcile import Deps
from provisioning.settings import get_settings
from provisioning.status import utc_now
from provisioning.storage import (
    DrainQueue,
    MessageLease,
    Outbox,
    PoisonArchive,
    RequesterTable,
    StatusStore,
    StorageConnection,
    TableDueIndex,
    ensure_table,
)
from provisioning.sweeper import SweepDeps

# The SDKs log every HTTP request at INFO; in the Portal that drowns the app's own lines.
for _noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Runtime:
    deps: Deps
    archive: PoisonArchive
    sweep: SweepDeps
    front_door: FrontDoor | None  # None without ENTRA_TENANT_ID
    poison_lease: MessageLease


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime, built by the first invocation; concurrent first invocations wait.

    (functools.cache would let every invocation of a cold start's first batch build its own:
    as many credentials, token fetches and client sets as the batch had messages.)
    """
    global _runtime  # noqa: PLW0603 - one per process, by design
    runtime = _runtime
    if runtime is None:
        with _runtime_lock:
            runtime = _runtime
            if runtime is None:
                runtime = _runtime = _build_runtime()
    return runtime


def _build_runtime() -> Runtime:
    settings = get_settings()
    storage = StorageConnection.from_env(os.environ)
    status_table = storage.table(settings.status_table)
    archive_table = storage.table(settings.poison_archive_table)
    requester_table = storage.table(settings.requester_table)
    for table in (status_table, archive_table, requester_table):
        ensure_table(table)
    index = TableDueIndex(status_table)
    status = StatusStore(
        status_table, index, first_look=timedelta(minutes=settings.sweeper_overdue_minutes)
    )
    poison_queue = storage.queue(settings.poison_queue_name, encode=False)
    outbox = Outbox(storage.queue(settings.queue_name), poison_queue)
    archive = PoisonArchive(archive_table)
    deps = Deps(
        settings=settings,
        arm=Arm(settings, SharedTokenCredential(DefaultAzureCredential())),
        status=status,
        outbox=outbox,
        clock=utc_now,
        jitter=lambda: random.uniform(0, 1),
        requesters=RequesterTable(requester_table),
        lease=MessageLease(storage.queue(settings.queue_name, encode=False)),
    )
    sweep = SweepDeps(
        settings=settings,
        status=status,
        index=index,
        outbox=outbox,
        archive=archive,
        drain=DrainQueue(storage.queue(settings.poison_poison_queue_name, encode=False)),
        clock=utc_now,
        new_chain=new_chain_token,
    )
    authenticator = token_validator(settings)
    front_door = (
        None
        if authenticator is None
        else FrontDoor(
            settings=settings,
            authenticator=authenticator,
            status=deps.status,
            requesters=deps.requesters,
            outbox=deps.outbox,
            clock=utc_now,
        )
    )
    poison_lease = MessageLease(poison_queue)  # the same client the outbox sends with
    return Runtime(
        deps=deps,
        archive=archive,
        sweep=sweep,
        front_door=front_door,
        poison_lease=poison_lease,
    )


def get_front_door() -> FrontDoor | None:
    """The HTTP front door, or None without ENTRA_TENANT_ID (checked before any storage)."""
    if get_settings().entra_tenant_id is None:
        return None
    return get_runtime().front_door
