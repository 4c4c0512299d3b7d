"""The front door's token check as the benchmark measures it (bench.overhead.token_validation)."""

from __future__ import annotations

import pytest

from bench.overhead import token_validation
from bench.report import token_table


def test_keys_are_read_once_then_no_call_per_token() -> None:
    """The first call reads the tenant's keys once; the other calls make no network call."""
    cost = token_validation(calls=50)
    assert cost.key_fetches_first == 1
    assert cost.key_fetches_after == 0
    assert 0 < cost.p50_ms <= cost.p99_ms
    assert "| 50 |" in token_table(cost)


@pytest.mark.slow
def test_validation_p50_is_under_a_millisecond() -> None:
    """Issue 12's bound: p50 < 1 ms per token once the keys are cached (2,000 tokens)."""
    cost = token_validation(calls=2000)
    assert cost.p50_ms < 1.0, cost
