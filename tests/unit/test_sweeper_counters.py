"""The sweeper's four OpenTelemetry counters add what one tick found and did (in memory, no I/O).

The worker's Azure Monitor set-up exports them to ``customMetrics``; here an in-memory reader on
the SDK's own MeterProvider reads what the API counters recorded.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum

from provisioning.contract import example_request
from provisioning.sweeper import COUNTERS, sweep
from tests.fakes import MemoryDrain, MemoryDueIndex, World
from tests.unit.factories import REQUEST_ID, SUBSCRIPTION, T0, make_record
from tests.unit.test_sweeper import MARGIN, SETTINGS, _deps


@pytest.fixture(scope="module")
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    # The global provider can be set once per process; the sweeper's meter is a proxy until then.
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader


def _sums(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    sums: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                assert isinstance(metric.data, Sum), metric  # a counter's points are sums
                sums[metric.name] = sum(int(point.value) for point in metric.data.data_points)
    return sums


def test_one_tick_adds_its_counts_to_the_four_counters(reader: InMemoryMetricReader) -> None:
    before = _sums(reader)
    world = World(SETTINGS, T0)
    index = MemoryDueIndex()
    assert world.status.insert(make_record(chain="original", step=3, next_delay=5)) is not None
    index.file(REQUEST_ID, T0 + MARGIN)
    body = {**example_request(), "request_id": "0" * 8 + REQUEST_ID[8:]}
    body["subscription_id"] = SUBSCRIPTION
    drain = MemoryDrain(base64.b64encode(json.dumps(body).encode()), b"not base64 at all")
    world.now = T0 + timedelta(minutes=11)
    counts = sweep(_deps(world, index, drain))
    after = _sums(reader)
    added = {
        name: after.get(f"sweeper_{name}", 0) - before.get(f"sweeper_{name}", 0)
        for name in COUNTERS
    }
    assert added == {"overdue": 1, "rearmed": 1, "drained": 2, "deleted": 0}
    assert added == {name: getattr(counts, name) for name in COUNTERS}
