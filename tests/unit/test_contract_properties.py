"""Property-based tests of ``provisioning.contract`` (hypothesis; pure, a few seconds in all)."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.contract import APP_TAG_NAMES, parse_request, readable_request_id
from provisioning.errors import InvalidRequest

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALNUM = string.ascii_letters + string.digits

# --- canonical values and the many ways to present them ----------------------------------

uuids = st.uuids().map(str)
resource_groups = st.text(ALNUM + "_.()-", min_size=1, max_size=30).filter(
    lambda name: not name.endswith(".")
)
locations = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)
cluster_names = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,18}[A-Za-z0-9])?", fullmatch=True)
version_parts = st.integers(0, 9999).map(str)
versions = st.lists(version_parts, min_size=2, max_size=3).map(".".join)
vm_sizes = st.from_regex(r"Standard_[A-Za-z0-9]{1,6}(?:[_-][A-Za-z0-9]{1,6}){0,3}", fullmatch=True)
tag_names = st.text(
    st.characters(codec="utf-8", exclude_characters="<>%&\\?/"),
    min_size=1,
    max_size=24,
).filter(lambda name: name.casefold() not in APP_TAG_NAMES)
tag_values = st.text(st.characters(codec="utf-8"), max_size=64)
tag_dicts = st.dictionaries(tag_names, tag_values, max_size=12).filter(
    lambda tags: len({name.casefold() for name in tags}) == len(tags)
)


@st.composite
def canonical_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request in canonical form (as ``to_dict`` writes it)."""
    cluster: dict[str, Any] = {
        "name": draw(cluster_names),
        "node_count": draw(st.integers(1, 100)),
        "vm_size": draw(vm_sizes),
    }
    if draw(st.booleans()):
        cluster["kubernetes_version"] = draw(versions)
    return {
        "request_id": draw(uuids),
        "subscription_id": draw(uuids),
        "resource_group": draw(resource_groups),
        "location": draw(locations),
        "cluster": cluster,
        "tags": draw(tag_dicts),
    }


@st.composite
def presentations(draw: st.DrawFn, canonical: dict[str, Any]) -> dict[str, Any]:
    """An equivalent message as an SPA might write it: case, spaces, omitted defaults, order."""
    raw = json.loads(json.dumps(canonical))
    for key in ("request_id", "subscription_id"):
        if draw(st.booleans()):
            raw[key] = raw[key].upper()
    letters = [
        (char.upper() if draw(st.booleans()) else char) + " " * draw(st.integers(0, 2))
        for char in raw["location"]
    ]
    raw["location"] = " " * draw(st.integers(0, 2)) + "".join(letters)
    cluster = raw["cluster"]
    if cluster["node_count"] == 3 and draw(st.booleans()):
        del cluster["node_count"]
    if cluster["vm_size"] == "Standard_D4s_v5" and draw(st.booleans()):
        del cluster["vm_size"]
    if not raw["tags"] and draw(st.booleans()):
        del raw["tags"]
    else:
        raw["tags"] = dict(draw(st.permutations(list(raw["tags"].items()))))
    return dict(draw(st.permutations(list(raw.items()))))


valid_messages = canonical_requests().flatmap(presentations)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_PATHS = (
    "request_id",
    "subscription_id",
    "resource_group",
    "location",
    "cluster",
    "tags",
    "cluster.name",
    "cluster.kubernetes_version",
    "cluster.node_count",
    "cluster.vm_size",
)


def dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def outcome(body: bytes | str) -> InvalidRequest | None:
    """Parse; return the InvalidRequest or None. Any other exception fails the test."""
    try:
        parse_request(body)
    except InvalidRequest as exc:
        return exc
    return None


# --- properties ------------------------------------------------------------------------------


@FAST
@given(valid_messages)
def test_valid_requests_parse_and_round_trip(message: dict[str, Any]):
    """Valid messages parse, and re-parsing the canonical form gives an equal request."""
    parsed = parse_request(dumps(message))
    assert parse_request(json.dumps(parsed.to_dict())) == parsed
    assert parsed.request_id == message["request_id"].lower()
    assert parsed.location == message["location"].replace(" ", "").lower()
    assert len(parsed.node_resource_group) <= 80
    assert readable_request_id(dumps(message)) == parsed.request_id


@FAST
@given(canonical_requests().flatmap(lambda c: st.tuples(st.just(c), presentations(c))))
def test_equivalent_presentations_share_a_canonical_form(pair: tuple[dict[str, Any], Any]):
    """Any presentation of a canonical request parses back to exactly that canonical form."""
    canonical, message = pair
    parsed = parse_request(dumps(message))
    assert parsed.to_dict() == canonical
    assert parsed.fingerprint() == parse_request(dumps(canonical)).fingerprint()


SMALL = st.fixed_dictionaries(
    {
        "request_id": st.sampled_from(
            [
                "00000000-0000-0000-0000-000000000001",
                "A" * 8 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 4 + "-" + "0" * 12,
            ]
        ),
        "subscription_id": st.just("00000000-0000-0000-0000-000000000000"),
        "resource_group": st.sampled_from(["rg", "RG"]),
        "location": st.sampled_from(["westeurope", "West Europe", "northeurope"]),
        "cluster": st.fixed_dictionaries(
            {"name": st.sampled_from(["aks", "Aks"])},
            optional={"node_count": st.sampled_from([3, 4]), "kubernetes_version": st.just("1.31")},
        ),
    },
    optional={"tags": st.sampled_from([{}, {"a": "b"}, {"A": "b"}])},
)


@settings(max_examples=300, deadline=None)
@given(SMALL, SMALL)
def test_fingerprints_are_equal_iff_canonical_forms_are(
    first: dict[str, Any], second: dict[str, Any]
):
    """Two requests share a fingerprint exactly when their canonical dicts are equal."""
    a, b = parse_request(dumps(first)), parse_request(dumps(second))
    assert (a.fingerprint() == b.fingerprint()) == (a.to_dict() == b.to_dict())
    assert (a == b) == (a.to_dict() == b.to_dict())


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_invalid_request(body: bytes):
    """Arbitrary bytes either parse or raise InvalidRequest; readable_request_id never raises."""
    outcome(body)
    result = readable_request_id(body)
    assert result is None or result == result.lower()


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_invalid_request(body: str):
    """Arbitrary text (lone surrogates included) either parses or raises InvalidRequest."""
    outcome(body)
    readable_request_id(body)


@FAST
@given(json_values)
def test_arbitrary_json_raises_only_invalid_request(value: Any):
    """Arbitrary JSON values raise InvalidRequest naming at least one problem."""
    error = outcome(json.dumps(value))
    assert error is not None and error.problems


@FAST
@given(
    st.dictionaries(
        st.sampled_from([*FIELD_PATHS[:6], "attempt", "extra"]),
        json_values
        | st.dictionaries(st.sampled_from(["name", "node_count", "vm_size", "x"]), json_values),
    )
)
def test_objects_with_contract_keys_raise_only_invalid_request(document: dict[str, Any]):
    """Objects built from contract keys and arbitrary values fail cleanly, request_id consistent."""
    error = outcome(dumps(document))
    if error is not None:
        assert error.problems
        assert error.request_id == readable_request_id(dumps(document))


@st.composite
def mutated_messages(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid message with one field replaced by an arbitrary JSON value."""
    message = draw(valid_messages)
    path = draw(st.sampled_from(FIELD_PATHS))
    target, _, leaf = path.rpartition(".")
    container = message[target] if target else message
    container[leaf] = draw(json_values)
    return message, path


@FAST
@given(mutated_messages())
def test_problems_stay_on_the_broken_field(case: tuple[dict[str, Any], str]):
    """Breaking one field names only it (or the node resource group) and keeps the request_id."""
    message, path = case
    error = outcome(dumps(message))
    if error is None:
        return
    for problem in error.problems:
        local = problem.field == path or problem.field.startswith(path + ".")
        assert local or problem.field == "resource_group", (path, problem)
    if path != "request_id":
        assert error.request_id == message["request_id"].lower()
