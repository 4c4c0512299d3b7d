"""Property tests the hardening issue asks for, beyond test_contract_properties/test_decisions:
ASCII-only names, the MAX_NODE_COUNT bound, forged reserved fields, and the transient budget."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.contract import parse_request
from provisioning.decisions import after_transient
from provisioning.errors import ErrorInfo, InvalidRequest
from provisioning.status import Phase
from tests.unit.factories import make_record, make_settings

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE: dict[str, Any] = {
    "request_id": "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10",
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "resource_group": "rg-elb-cluster",
    "location": "westeurope",
    "cluster": {"name": "aks-elb", "node_count": 3},
}
non_ascii = st.characters(min_codepoint=0x80, exclude_categories=["Cs"])


def _problems(document: dict[str, Any], **kwargs: Any) -> set[str] | None:
    try:
        parse_request(json.dumps(document, ensure_ascii=False).encode(), **kwargs)
    except InvalidRequest as exc:
        return {p.field for p in exc.problems}
    return None


@PROPS
@given(char=non_ascii, where=st.integers(0, 6), field=st.sampled_from(["rg", "name", "loc"]))
def test_any_non_ascii_letter_in_a_name_is_refused_on_that_field(
    char: str, where: int, field: str
) -> None:
    """One non-ASCII character (look-alike or not) anywhere in a name: refused, that field named."""
    document = json.loads(json.dumps(BASE))
    path = {"rg": "resource_group", "name": "cluster.name", "loc": "location"}[field]
    if field == "rg":
        name = document["resource_group"]
        document["resource_group"] = name[:where] + char + name[where:]
    elif field == "name":
        name = document["cluster"]["name"]
        document["cluster"]["name"] = name[:where] + char + name[where:]
    else:
        name = document["location"]
        document["location"] = name[:where] + char + name[where:]
    problems = _problems(document)
    assert problems is not None and path in problems


@PROPS
@given(limit=st.integers(1, 1000), count=st.integers(-5, 1100))
def test_node_count_is_accepted_exactly_within_one_and_the_limit(limit: int, count: int) -> None:
    """MAX_NODE_COUNT: a node count passes if and only if 1 <= count <= the limit."""
    document = json.loads(json.dumps(BASE))
    document["cluster"]["node_count"] = count
    problems = _problems(document, max_node_count=limit)
    assert (problems is None) == (1 <= count <= limit)
    if problems is not None:
        assert problems == {"cluster.node_count"}


@PROPS
@given(
    key=st.sampled_from(["attempt", "chain", "step", "run", "kind"]),
    value=st.one_of(st.integers(), st.text(max_size=8), st.none()),
)
def test_a_forged_reserved_field_is_always_refused_naming_it(key: str, value: Any) -> None:
    """Whatever value the sender forges for attempt/chain/step/run/kind, it is named and refused."""
    problems = _problems({**BASE, key: value})
    assert problems == {key}


@PROPS
@given(
    budget=st.integers(0, 15),
    retry_afters=st.lists(
        st.one_of(st.none(), st.floats(min_value=0, max_value=10_000, allow_nan=False)),
        min_size=16,
        max_size=16,
    ),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_transient_budget_allows_exactly_budget_retries(
    budget: int, retry_afters: list[float | None], jitter: float
) -> None:
    """TRANSIENT_RETRIES=n: n retries, each 1..900 s and not shorter than Retry-After; then fail."""
    config = make_settings(TRANSIENT_RETRIES=str(budget))
    record = make_record()
    info = ErrorInfo("TooManyRequests", "slow down", correlation_id="c-1")
    for failure, retry_after in enumerate(retry_afters, 1):
        step = after_transient(record, info, retry_after, config, jitter)
        if failure > budget:
            assert step.record.phase is Phase.FAILED
            assert step.record.error is not None and step.record.error.code == "TooManyRequests"
            assert step.delay is None
            return
        assert step.record.phase is record.phase
        assert step.record.attempt == record.attempt  # never spends a visibility attempt
        assert step.delay is not None and 1 <= step.delay <= 900
        assert step.delay >= min(retry_after or 0, 900)
        record = step.record
    raise AssertionError("the budget never ran out")
