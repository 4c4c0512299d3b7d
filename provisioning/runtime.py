"""Builds the process's clients once: credentials, ARM and storage clients are reused by every
invocation, so a warm instance fetches one token per audience, not one per message."""

from __future__ import annotations

import logging
import os
import random
import threading
from dataclasses import dataclass

from azure.identity import DefaultAzureCredential

from provisioning.arm import Arm
from provisioning.credentials import SharedTokenCredential
from provisioning.reconcile import Deps
from provisioning.settings import get_settings
from provisioning.status import utc_now
from provisioning.storage import (
    Outbox,
    PoisonArchive,
    StatusStore,
    StorageConnection,
    ensure_table,
)

# The SDKs log every HTTP request at INFO; in the Portal that drowns the app's own lines.
for _noisy in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Runtime:
    deps: Deps
    archive: PoisonArchive


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
    ensure_table(status_table)
    ensure_table(archive_table)
    deps = Deps(
        settings=settings,
        arm=Arm(settings, SharedTokenCredential(DefaultAzureCredential())),
        status=StatusStore(status_table),
        outbox=Outbox(
            storage.queue(settings.queue_name),
            storage.queue(settings.poison_queue_name, encode=False),
        ),
        clock=utc_now,
        jitter=lambda: random.uniform(0, 1),
    )
    return Runtime(deps=deps, archive=PoisonArchive(archive_table))
