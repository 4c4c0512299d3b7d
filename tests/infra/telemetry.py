"""The app's log records as Azure Monitor's exporter would see them, and the fields they carry.

``exported()`` attaches an OpenTelemetry LoggingHandler with an in-memory exporter where the
deployed app attaches Azure Monitor's (the logger PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME names
in app.bicep). ``emitted_fields()`` runs the app's log-producing paths through it and returns
every attribute name they carry: what App Insights stores as customDimensions. The KQL checks
(test_kql.py) require every customDimensions field a query reads to be in that set; a path that
logs a new field adds a scenario here.
"""

from __future__ import annotations

import base64
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest

from provisioning.errors import ErrorInfo
from provisioning.messages import Delivery
from provisioning.reconcile import handle
from provisioning.settings import Settings
from provisioning.sweeper import SweepDeps, sweep
from provisioning.views import OperationView
from tests.fakes import MemoryDrain, MemoryDueIndex, World
from tests.infra import bicep

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is a dev requirement (pinned)")

from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
REQUEST_ID = "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10"
REQUEST = {
    "request_id": REQUEST_ID,
    "subscription_id": SUBSCRIPTION,
    "resource_group": "rg-telemetry",
    "location": "westeurope",
    "cluster": {"name": "aks-telemetry", "node_count": 1, "vm_size": "Standard_D4s_v5"},
}


def deployed_logger_name() -> str:
    """The logger the worker's Azure Monitor exporter is attached to, as app.bicep sets it."""
    settings = {setting.name: setting for setting in bicep.app_settings()}
    name = settings["PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME"].value
    assert name is not None
    return name


@contextmanager
def exported() -> Iterator[InMemoryLogRecordExporter]:
    """An OTel LoggingHandler (what Azure Monitor's distro installs) exporting to memory."""
    memory = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    with warnings.catch_warnings():
        # opentelemetry-sdk 1.45 deprecates its LoggingHandler; the distro still uses it.
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger(deployed_logger_name())
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield memory
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        provider.shutdown()


def wire(document: object) -> bytes:
    """A queue message body as the SPA sends it: base64 of UTF-8 JSON."""
    return base64.b64encode(json.dumps(document).encode())


def failing_world() -> World:
    """ARM as one request sees it: the group appears, the AKS create starts, then fails."""
    world = World(
        settings=Settings(allowed_subscriptions=frozenset({SUBSCRIPTION})),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    world.arm.operation = OperationView("Failed", ErrorInfo("QuotaExceeded", "no cores left"), None)
    return world


def _accepted_then_failed() -> None:
    world = failing_world()
    handle(Delivery("m1", wire(REQUEST), 1), world.deps)
    handle(world.outbox.chain_delivery(0, "m2"), world.deps)
    # The same chain message again under another id: another delivery moved on (stale).
    handle(world.outbox.chain_delivery(0, "m3"), world.deps)
    # The failed create's message, archived by the poison trigger.
    world.poison(Delivery("p1", world.outbox.poisoned[0], 1), "q")


def _rejected() -> None:
    world = failing_world()
    handle(Delivery("m4", wire({**REQUEST, "cluster": {"name": "-bad-"}}), 1), world.deps)


def _swept() -> None:
    """A sweeper tick that re-arms an overdue request and drains one -poison-poison body."""
    world = failing_world()
    world.arm.operation = OperationView("InProgress", None, None)
    handle(Delivery("m5", wire(REQUEST), 1), world.deps)
    index = MemoryDueIndex()
    index.file(REQUEST_ID, world.now)
    world.now += timedelta(days=1)
    sweep(
        SweepDeps(
            settings=world.settings,
            status=world.status,
            index=index,
            outbox=world.outbox,
            archive=world.archive,
            drain=MemoryDrain(wire(REQUEST)),
            clock=lambda: world.now,
            new_chain=lambda: "rearmed",
        )
    )


# Every path of the app that logs a line for operators. Add one when a new kind of line appears.
SCENARIOS: tuple[Callable[[], None], ...] = (_accepted_then_failed, _rejected, _swept)


def scenario_records() -> list[ReadableLogRecord]:
    """The records the app's loggers exported while every scenario ran."""
    with exported() as memory:
        for scenario in SCENARIOS:
            scenario()
        return [data for data in memory.get_finished_logs()]


@cache
def emitted_fields() -> frozenset[str]:
    """Every attribute the app's own log records carry (OTel's code.* and exception.* aside)."""
    names: set[str] = set()
    for data in scenario_records():
        names.update(name for name in (data.log_record.attributes or {}) if "." not in name)
    return frozenset(names)


def emitted_values(field: str) -> frozenset[str]:
    """Every value the scenarios' records carry for ``field``."""
    return frozenset(
        str(attributes[field])
        for data in scenario_records()
        if field in (attributes := dict(data.log_record.attributes or {}))
    )
