"""Unit tests of the pure request validator ``provisioning.contract`` (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.contract import (
    APP_TAG_NAMES,
    MAX_MESSAGE_BYTES,
    ClusterRequest,
    ClusterSpec,
    example_request,
    parse_request,
    readable_request_id,
)
from provisioning.errors import FieldProblem, InvalidRequest, TerminalError
from tests.documents import DELETE, edited

RID = "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10"
SUB = "00000000-0000-0000-0000-000000000000"
EXAMPLE: dict[str, Any] = example_request()
CYRILLIC_A = "\u0430"
CYRILLIC_O = "\u043e"
GREEK_OMICRON = "\u03bf"
KELVIN = "\u212a"
EMOJI = "\U0001f680"


def request(**changes: Any) -> dict[str, Any]:
    """The issue's example with changes keyed by path (``cluster__name``); DELETE removes one."""
    return edited(EXAMPLE, **changes)


def body(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def problems(document: Any, **kwargs: Any) -> dict[str, str]:
    """Parse and expect rejection: the problems as {field: reason}, each field named once."""
    raw = document if isinstance(document, bytes | str) else body(document)
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw, **kwargs)
    found = {p.field: p.reason for p in caught.value.problems}
    assert len(found) == len(caught.value.problems), "a field is named twice"
    return found


def rejected_field(document: Any, field: str, **kwargs: Any) -> str:
    """Expect exactly one problem, on ``field``; return its reason."""
    found = problems(document, **kwargs)
    assert list(found) == [field]
    return found[field]


# --- the happy path ------------------------------------------------------------------------


def test_issue_example_parses():
    """The example from the issue parses into the expected frozen dataclasses."""
    parsed = parse_request(body(EXAMPLE))
    assert parsed == ClusterRequest(
        request_id=RID,
        subscription_id=SUB,
        resource_group="rg-elb-cluster",
        location="westeurope",
        cluster=ClusterSpec("aks-elb", "1.31", 3, "Standard_D4s_v5"),
        tags=(("team", "elb"),),
    )
    assert parsed.dns_prefix == "aks-elb"
    assert parsed.node_resource_group == "MC_rg-elb-cluster_aks-elb_westeurope"


def test_str_and_bytes_bodies_are_equivalent():
    """A str body parses like its UTF-8 bytes."""
    assert parse_request(json.dumps(EXAMPLE)) == parse_request(body(EXAMPLE))


def test_request_is_frozen_and_hashable():
    """Parsed requests are immutable and usable as dict keys or in sets."""
    parsed = parse_request(body(EXAMPLE))
    with pytest.raises(AttributeError):
        parsed.location = "northeurope"  # type: ignore[misc]
    assert len({parsed, parse_request(body(EXAMPLE))}) == 1


def test_invalid_request_is_a_terminal_error():
    """InvalidRequest is terminal, carries an ARM-style code and lists every problem."""
    with pytest.raises(TerminalError) as caught:
        parse_request(body(request(location="", cluster__node_count=0)))
    assert caught.value.info.code == "InvalidRequest"
    assert len(caught.value.info.details) == 2


# --- normalisation and defaults ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("westeurope", "westeurope"),
        ("West Europe", "westeurope"),
        ("WESTEUROPE", "westeurope"),
        (" west  europe ", "westeurope"),
        ("Korea Central", "koreacentral"),
        ("a", "a"),
        ("w" * 50, "w" * 50),
        ("w" * 25 + " " * 30 + "e" * 25, "w" * 25 + "e" * 25),
    ],
)
def test_location_is_lowercased_with_spaces_removed(given: str, normalised: str):
    """location is lowercased and stripped of spaces; the normal form is what is returned."""
    parsed = parse_request(body(request(location=given, resource_group="rg")))
    assert parsed.location == normalised


def test_uuids_are_lowercased():
    """request_id and subscription_id are normalised to lowercase."""
    parsed = parse_request(body(request(request_id=RID.upper(), subscription_id=SUB.upper())))
    assert parsed.request_id == RID
    assert parsed.subscription_id == SUB


def test_names_keep_their_case():
    """Resource group and cluster name keep the caller's spelling (ARM keeps it too)."""
    parsed = parse_request(body(request(resource_group="RG-Elb", cluster__name="AKS_Elb")))
    assert parsed.resource_group == "RG-Elb"
    assert parsed.cluster.name == "AKS_Elb"
    assert parsed.dns_prefix == "aks-elb"
    assert parsed.node_resource_group == "MC_RG-Elb_AKS_Elb_westeurope"


def test_defaults_apply_when_optional_fields_are_absent():
    """Absent optional fields take their defaults: AKS's version, 3 nodes, D4s_v5, no tags."""
    parsed = parse_request(body(request(cluster={"name": "aks-elb"}, tags=DELETE)))
    assert parsed.cluster == ClusterSpec("aks-elb", None, 3, "Standard_D4s_v5")
    assert parsed.tags == ()


def test_tags_are_sorted_pairs():
    """Tags come back as a tuple of (name, value) pairs sorted by name."""
    parsed = parse_request(body(request(tags={"b": "2", "a": "1", "C": "3"})))
    assert parsed.tags == (("C", "3"), ("a", "1"), ("b", "2"))


def test_to_dict_is_canonical_and_round_trips():
    """to_dict is normalised with defaults explicit, and parses back to an equal request."""
    parsed = parse_request(body(request(location="West Europe", cluster={"name": "Aks"})))
    canonical = parsed.to_dict()
    assert canonical == {
        "request_id": RID,
        "subscription_id": SUB,
        "resource_group": "rg-elb-cluster",
        "location": "westeurope",
        "cluster": {"name": "Aks", "node_count": 3, "vm_size": "Standard_D4s_v5"},
        "tags": {"team": "elb"},
    }
    assert parse_request(json.dumps(canonical)) == parsed


@pytest.mark.parametrize(
    "variant",
    [
        request(location="West Europe"),
        request(request_id=RID.upper(), subscription_id=SUB.upper()),
        request(cluster__node_count=DELETE),
        request(cluster__vm_size=DELETE),
        request(tags={"team": "elb"}),
    ],
)
def test_fingerprint_is_equal_for_equivalent_payloads(variant: dict[str, Any]):
    """Payloads that differ only in normalisable spelling or defaults share a fingerprint."""
    assert parse_request(body(variant)).fingerprint() == parse_request(body(EXAMPLE)).fingerprint()


@pytest.mark.parametrize(
    "variant",
    [
        request(location="northeurope"),
        request(cluster__node_count=4),
        request(cluster__kubernetes_version=DELETE),
        request(tags={"team": "ELB"}),
        request(tags={}),
        request(resource_group="RG-ELB-CLUSTER"),
    ],
)
def test_fingerprint_differs_for_different_requests(variant: dict[str, Any]):
    """A change that means something else (even only a name's case) changes the fingerprint."""
    assert parse_request(body(variant)).fingerprint() != parse_request(body(EXAMPLE)).fingerprint()


@pytest.mark.parametrize(
    ("changes", "fingerprint"),
    [
        ({}, "d38cb3c60d861a3701a94b4b6ef4b700611b758ac8fac5010a278011cebba582"),
        (
            {"tags": {"équipe": "ü", "a": "b"}},
            "1c886a5b173ebc14d64498aa84a32c7fad6f87dcb8a067b93d0eed58922c0f34",
        ),
    ],
)
def test_fingerprint_has_a_known_value(changes: dict[str, Any], fingerprint: str):
    """Pinned: fingerprints are stored in status records, so their recipe may never drift."""
    assert parse_request(body({**EXAMPLE, **changes})).fingerprint() == fingerprint


def test_fingerprint_is_sha256_hex():
    """The fingerprint is 64 lowercase hex digits."""
    fingerprint = parse_request(body(EXAMPLE)).fingerprint()
    assert len(fingerprint) == 64
    assert set(fingerprint) <= set("0123456789abcdef")


# --- bounds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("resource_group", "r", True),
        ("resource_group", "r" * 58, True),  # node resource group exactly 80
        ("resource_group", "r" * 59, False),  # node resource group 81
        ("resource_group", "r" * 90, False),  # ARM's limit, but the node group would not fit
        ("resource_group", "r" * 91, False),
        ("resource_group", "", False),
        ("resource_group", "rg_(elb).v2-x", True),
        ("resource_group", "rg.", False),
        ("resource_group", ".rg", True),
        ("resource_group", "(rg)", True),
        ("location", "a", True),
        ("location", "", False),
        ("location", " ", False),
        ("cluster__name", "a", True),
        ("cluster__name", "a" * 54, True),  # DNS prefix exactly 54
        ("cluster__name", "a" * 55, False),  # DNS prefix 55
        ("cluster__name", "", False),
        ("cluster__name", "a-_b", True),
        ("cluster__name", "1aks", True),
        ("cluster__node_count", 1, True),
        ("cluster__node_count", 100, True),
        ("cluster__node_count", 0, False),
        ("cluster__node_count", 101, False),
        ("cluster__vm_size", "Standard_" + "D" * 55, True),  # 64 characters
        ("cluster__vm_size", "Standard_" + "D" * 56, False),  # 65 characters
        ("cluster__vm_size", "Standard_E32-16s_v5", True),
        ("cluster__vm_size", "Standard_D", True),
        ("cluster__kubernetes_version", "1.31", True),
        ("cluster__kubernetes_version", "1.31.10", True),
        ("cluster__kubernetes_version", "0.0", True),
        ("cluster__kubernetes_version", "9999.9999.9999", True),
        ("cluster__kubernetes_version", "10000.1", False),
        ("cluster__kubernetes_version", "1.031", False),
        ("cluster__kubernetes_version", "1.31.", False),
    ],
)
def test_field_at_and_just_past_its_bounds(field: str, value: Any, ok: bool):
    """Each field is accepted at its bounds and rejected just past them, naming that field."""
    extra = {"resource_group": "rg"} if field == "cluster__name" else {}
    document = request(**{field: value}, **extra)
    if ok:
        parse_request(body(document))
    else:
        rejected_field(document, field.replace("__", "."))


def test_cluster_name_63_is_an_aks_name_but_its_dns_prefix_is_too_long():
    """A 63-character name passes AKS's name rule, so the reason is the derived DNS prefix."""
    reason = rejected_field(request(cluster__name="a" * 63, resource_group="rg"), "cluster.name")
    assert "DNS prefix" in reason
    assert "63" in reason and "54" in reason


def test_cluster_name_64_fails_the_name_rule_itself():
    """A 64-character name fails the 1-63 rule (and the DNS prefix is not checked on top)."""
    reason = rejected_field(request(cluster__name="a" * 64, resource_group="rg"), "cluster.name")
    assert "1-63" in reason


def test_dns_prefix_replaces_underscores():
    """The DNS prefix is the lowercased name with _ replaced by -."""
    assert parse_request(body(request(cluster__name="My_Cluster-1"))).dns_prefix == "my-cluster-1"


def test_node_resource_group_overflow_is_reported_on_resource_group():
    """MC_<rg>_<cluster>_<location> over 80 characters is named on resource_group, with length."""
    reason = rejected_field(request(resource_group="r" * 59), "resource_group")
    assert "node resource group" in reason and "81" in reason and "80" in reason


def test_node_resource_group_uses_the_normalised_location():
    """The 80-character check uses the location without spaces."""
    document = request(resource_group="r" * 58, location="West Europe")
    assert len(parse_request(body(document)).node_resource_group) == 80


@pytest.mark.parametrize("maximum", [1, 5, 1000])
@pytest.mark.parametrize("offset", [0, 1])
def test_max_node_count_is_configurable(maximum: int, offset: int):
    """node_count may reach max_node_count and no further."""
    document = request(cluster__node_count=maximum + offset)
    if offset == 0:
        assert parse_request(body(document), max_node_count=maximum).cluster.node_count == maximum
    else:
        rejected_field(document, "cluster.node_count", max_node_count=maximum)


def test_default_node_count_over_a_small_maximum_is_reported():
    """With max_node_count below 3, an absent node_count (default 3) is reported."""
    reason = rejected_field(
        request(cluster__node_count=DELETE), "cluster.node_count", max_node_count=2
    )
    assert "absent" in reason


@pytest.mark.parametrize("maximum", [0, -1, True])
def test_nonsensical_max_node_count_is_a_programming_error(maximum: int):
    """A max_node_count below 1 (or a bool) is a caller bug: ValueError, not InvalidRequest."""
    with pytest.raises(ValueError, match="max_node_count"):
        parse_request(body(EXAMPLE), max_node_count=maximum)


# --- ASCII only ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("resource_group", f"rg-elb-{CYRILLIC_A}ks"),
        ("resource_group", f"rg-{GREEK_OMICRON}ne"),
        ("resource_group", "rg-\u00e9lb"),  # a real letter ARM would accept
        ("cluster__name", f"{CYRILLIC_A}ks-elb"),
        ("cluster__name", f"aks-{CYRILLIC_O}ne"),
        ("cluster__name", "aks-\uff45lb"),  # fullwidth e
        ("location", f"{KELVIN}oreacentral"),  # lowercases to ASCII "k"
        ("location", "westeur\u043epe"),
        ("cluster__vm_size", f"Standard_D4s_v5{CYRILLIC_O}"),
    ],
)
def test_unicode_look_alikes_are_rejected_as_non_ascii(field: str, value: str):
    """Non-ASCII letters are rejected, and the reason names the character and why."""
    reason = rejected_field(request(**{field: value}), field.replace("__", "."))
    assert "non-ASCII" in reason
    assert "U+" in reason
    assert "look-alike" in reason


def test_resource_group_reason_says_arm_would_allow_unicode():
    """The resource group reason is explicit that ASCII-only is this app's rule, not ARM's."""
    reason = rejected_field(request(resource_group=f"rg-{CYRILLIC_A}"), "resource_group")
    assert "ARM allows Unicode" in reason


@pytest.mark.parametrize("digit", ["\uff13", "\u0663"])  # fullwidth 3, Arabic-Indic 3
def test_uuid_accepts_only_ascii_hex(digit: str):
    """Unicode digits do not count as hex digits in a UUID."""
    rejected_field(request(subscription_id=digit + SUB[1:]), "subscription_id")


# --- each problem named --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_id", "{" + RID + "}"),
        ("request_id", RID.replace("-", "")),
        ("request_id", "urn:uuid:" + RID),
        ("request_id", RID + "\n"),
        ("request_id", RID[:-1]),
        ("request_id", RID + "0"),
        ("request_id", "g" + RID[1:]),
        ("subscription_id", "my-subscription"),
        ("subscription_id", ""),
        ("resource_group", "rg#1"),
        ("resource_group", "rg elb"),
        ("resource_group", "rg/elb"),
        ("location", "west-europe"),
        ("location", "west\teurope"),
        ("location", "westeurope!"),
        ("cluster__name", "-aks"),
        ("cluster__name", "aks-"),
        ("cluster__name", "_aks"),
        ("cluster__name", "aks_"),
        ("cluster__name", "aks.elb"),
        ("cluster__name", "aks elb"),
        ("cluster__kubernetes_version", "1"),
        ("cluster__kubernetes_version", "v1.31"),
        ("cluster__kubernetes_version", "1.31.2.1"),
        ("cluster__kubernetes_version", "1.31-preview"),
        ("cluster__kubernetes_version", ""),
        ("cluster__node_count", -1),
        ("cluster__node_count", 10**30),
        ("cluster__vm_size", "standard_d4s_v5"),
        ("cluster__vm_size", "Standard_"),
        ("cluster__vm_size", "Standard_D4s__v5"),
        ("cluster__vm_size", "Standard_D4s_v5_"),
        ("cluster__vm_size", "Standard_D4s v5"),
        ("cluster__vm_size", "Basic_A0"),
        ("cluster__vm_size", "D4s_v5"),
    ],
)
def test_malformed_value_names_its_field(field: str, value: Any):
    """A malformed value is reported on its own JSON path and nowhere else."""
    rejected_field(request(**{field: value}), field.replace("__", "."))


FIELD_TYPES: dict[str, type] = {
    "request_id": str,
    "subscription_id": str,
    "resource_group": str,
    "location": str,
    "cluster": dict,
    "cluster__name": str,
    "cluster__kubernetes_version": str,
    "cluster__node_count": int,
    "cluster__vm_size": str,
    "tags": dict,
}
JSON_VALUES: list[Any] = [None, True, 1, 1.5, "x", [], {}]
WRONG_TYPED = [
    pytest.param(field, value, id=f"{field}-{json.dumps(value)}")
    for field, kind in FIELD_TYPES.items()
    for value in JSON_VALUES
    if isinstance(value, bool) or not isinstance(value, kind)
]


@pytest.mark.parametrize(("field", "value"), WRONG_TYPED)
def test_wrong_json_type_names_its_field(field: str, value: Any):
    """Every field rejects every JSON type but its own (null included), naming only that field."""
    path = field.replace("__", ".")
    reason = rejected_field(request(**{field: value}), path)
    assert "must be" in reason
    if value is None:
        assert "null" in reason


@pytest.mark.parametrize(
    "field",
    ["request_id", "subscription_id", "resource_group", "location", "cluster", "cluster__name"],
)
def test_missing_required_field_is_named(field: str):
    """Each required field, when absent, is named as required."""
    assert rejected_field(request(**{field: DELETE}), field.replace("__", ".")) == "is required"


@pytest.mark.parametrize(
    "field", ["cluster__kubernetes_version", "cluster__node_count", "cluster__vm_size", "tags"]
)
def test_optional_field_may_be_absent(field: str):
    """Each optional field may be left out."""
    parse_request(body(request(**{field: DELETE})))


@pytest.mark.parametrize("name", ["attempt", "chain", "step", "run", "kind"])
def test_forged_function_field_is_reserved(name: str):
    """A field only the function writes on re-enqueued messages is rejected as reserved."""
    reason = rejected_field(request(**{name: 1}), name)
    assert "reserved" in reason and "function" in reason


@pytest.mark.parametrize(
    ("document", "field", "hint"),
    [
        (request(requestId=RID), "requestId", None),
        (request(tags=DELETE, tag={}), "tag", "tags"),
        (request(Location="x"), "Location", "location"),
        (request(cluster__nodeCount=3), "cluster.nodeCount", None),
        (request(cluster__vmsize="x"), "cluster.vmsize", "vm_size"),
        (request(cluster__attempt=1), "cluster.attempt", None),
    ],
)
def test_unknown_field_is_rejected_with_a_hint(document: dict[str, Any], field: str, hint: Any):
    """Unknown fields (top level and in cluster) are rejected; a close known name is suggested."""
    reason = rejected_field(document, field)
    assert "unknown" in reason
    if hint:
        assert f"did you mean '{hint}'" in reason


def test_several_problems_are_named_at_once():
    """One InvalidRequest names every bad field together, with the readable request_id."""
    document = request(
        attempt=1,
        subscription_id="nope",
        resource_group="rg.",
        location="West-Europe",
        cluster={"name": "-x", "node_count": 0, "vm_size": "big", "extra": 1},
        tags={"managed-by": "me", "ok": "fine", "a?b": "c"},
    )
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body(document))
    assert {p.field for p in caught.value.problems} == {
        "attempt",
        "subscription_id",
        "resource_group",
        "location",
        "cluster.name",
        "cluster.node_count",
        "cluster.vm_size",
        "cluster.extra",
        "tags.managed-by",
        "tags.a?b",
    }
    assert caught.value.request_id == RID
    assert "cluster.node_count" in str(caught.value)


# --- tags ----------------------------------------------------------------------------------


def test_app_tag_names_are_exposed():
    """The app's own tag names are a module constant."""
    assert APP_TAG_NAMES == ("managed-by", "request_id", "requested-by")


@pytest.mark.parametrize(("count", "ok"), [(0, True), (47, True), (48, False), (60, False)])
def test_tag_count_includes_the_app_tags(count: int, ok: bool):
    """At most 47 user tags: with the app's 3 that is ARM's 50."""
    document = request(tags={f"t{i}": "v" for i in range(count)})
    if ok:
        assert len(parse_request(body(document)).tags) == count
    else:
        reason = rejected_field(document, "tags")
        assert f"{count + 3}" in reason and "50" in reason


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("n" * 512, "v", True),
        ("n" * 513, "v", False),
        ("", "v", False),
        ("team", "v" * 256, True),
        ("team", "v" * 257, False),
        ("team", "", True),
        ("team", EMOJI * 128, True),  # 256 UTF-16 code units
        ("team", EMOJI * 129, False),  # 129 characters but 258 UTF-16 code units
        (EMOJI * 256, "v", True),
        (EMOJI * 257, "v", False),
        ("team", "<>%&\\?/", True),  # forbidden in names only
        ("caf\u00e9", "cr\u00e8me", True),  # Unicode tags are fine
        ("team", "elb\ud800", False),  # lone surrogate
    ],
)
def test_tag_name_and_value_lengths(name: str, value: str, ok: bool):
    """Tag names are 1-512 and values 0-256 UTF-16 code units, as ARM counts them."""
    document = request(tags={name: value})
    if ok:
        assert parse_request(body(document)).tags == ((name, value),)
    else:
        raw = json.dumps(document).encode()  # ASCII escapes carry a lone surrogate
        assert list(problems(raw)) == [f"tags.{name}"]


@pytest.mark.parametrize("char", list("<>%&\\?/"))
def test_tag_name_forbidden_characters(char: str):
    """ARM's forbidden characters in tag names are rejected, named in the reason."""
    reason = rejected_field(request(tags={f"cost{char}center": "x"}), f"tags.cost{char}center")
    assert f"contains {char}" in reason


@pytest.mark.parametrize("name", ["managed-by", "request_id", "Managed-By", "REQUEST_ID"])
def test_user_tag_may_not_use_an_app_tag_name(name: str):
    """The app's tag names are reserved, whatever their case."""
    reason = rejected_field(request(tags={name: "x"}), f"tags.{name}")
    assert "reserved" in reason


def test_tag_names_differing_only_by_case_are_all_named():
    """Tag names are case-insensitive in ARM: each name of a colliding group is named."""
    found = problems(request(tags={"Team": "a", "team": "b", "TEAM": "c", "other": "d"}))
    assert set(found) == {"tags.Team", "tags.team", "tags.TEAM"}
    assert "case" in found["tags.team"]


def test_tag_problems_on_one_name_are_combined():
    """Several problems with one tag are joined into one problem on that tag's path."""
    reason = rejected_field(request(tags={"a/b": 5}), "tags.a/b")
    assert "forbids" in reason and "must be a string" in reason


def test_tag_value_must_be_a_string():
    """A tag value that is not a string is named on the tag's path."""
    rejected_field(request(tags={"team": None}), "tags.team")


# --- the body as a whole -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"\xff\xfe{}", "UTF-8"),
        ('{"request_id": "\ud800"}', "Unicode"),
        (b"\xef\xbb\xbf{}", "JSON"),
        (b"hello", "JSON"),
        (b'{"a": 1,}', "JSON"),
        (b"[]", "array"),
        (b'"text"', "string"),
        (b"null", "null"),
        (b"true", "boolean"),
        (b"1.5", "number"),
        (b"[" * 5000 + b"]" * 5000, "nested"),
        (b'{"a": ' + b"1" * 5000 + b"}", "digits"),
    ],
)
def test_body_that_is_not_a_json_object_is_named_as_the_whole(raw: bytes | str, reason_part: str):
    """Bodies that are not a UTF-8 JSON object are reported on $ with no request_id."""
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert [p.field for p in caught.value.problems] == ["$"]
    assert reason_part in caught.value.problems[0].reason
    assert caught.value.request_id is None


def test_nan_and_infinity_are_rejected_where_they_appear():
    """NaN/Infinity are not JSON; they are named on their field and request_id stays readable."""
    raw = json.dumps(EXAMPLE).replace('"node_count": 3', '"node_count": NaN')
    raw = raw.replace('"team": "elb"', '"team": Infinity')
    found = problems(raw)
    assert set(found) == {"cluster.node_count", "tags.team"}
    assert "NaN" in found["cluster.node_count"]


@pytest.mark.parametrize(("key", "readable"), [("request_id", False), ("location", True)])
def test_duplicate_keys_are_named(key: str, readable: bool):
    """A key given twice is ambiguous: it is named, and a doubled request_id is unreadable."""
    text = f'{{"{key}": "{EXAMPLE[key]}", ' + json.dumps(EXAMPLE)[1:]
    with pytest.raises(InvalidRequest) as caught:
        parse_request(text)
    assert [p.field for p in caught.value.problems] == [key]
    assert "more than once" in caught.value.problems[0].reason
    assert (caught.value.request_id is not None) is readable


def test_duplicate_keys_in_cluster_and_tags_are_named():
    """Doubled keys inside cluster and tags are named on their own paths."""
    text = json.dumps(EXAMPLE).replace('"name": "aks-elb"', '"name": "a", "name": "b"')
    text = text.replace('"team": "elb"', '"team": "x", "team": "y"')
    assert set(problems(text)) == {"cluster.name", "tags.team"}


@pytest.mark.parametrize(
    ("size", "ok"), [(MAX_MESSAGE_BYTES, True), (MAX_MESSAGE_BYTES + 1, False)]
)
def test_body_size_limit(size: int, ok: bool):
    """16384 bytes of JSON are accepted; one more is rejected with the size, request_id kept."""
    compact = json.dumps(EXAMPLE, separators=(",", ":")).encode()
    raw = b"{" + b" " * (size - len(compact)) + compact[1:]
    assert len(raw) == size
    if ok:
        parse_request(raw)
        return
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert [p.field for p in caught.value.problems] == ["$"]
    assert str(size) in caught.value.problems[0].reason
    assert caught.value.request_id == RID


def test_size_counts_utf8_bytes_not_characters():
    """A str body is measured in UTF-8 bytes."""
    text = json.dumps(request(tags={"t": "\u00e9" * 200}), ensure_ascii=False)
    text = "{" + " " * (MAX_MESSAGE_BYTES - len(text.encode()) + 1) + text[1:]
    assert len(text) <= MAX_MESSAGE_BYTES < len(text.encode())
    assert list(problems(text)) == ["$"]


def test_body_of_another_type_is_a_programming_error():
    """Only bytes or str are message bodies; anything else is a TypeError."""
    with pytest.raises(TypeError):
        parse_request(12)  # type: ignore[arg-type]


def test_field_problem_paths_escape_lone_surrogates():
    """A key with a lone surrogate appears escaped in its path, so the problem can be encoded."""
    found = problems('{"\\ud800": 1}')
    bad_key = next(field for field in found if field.startswith("\\"))
    bad_key.encode("utf-8")
    assert bad_key == "\\ud800"


# --- readable_request_id -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (body(EXAMPLE), RID),
        (json.dumps(EXAMPLE), RID),
        (body({"request_id": RID.upper()}), RID),
        (body({"request_id": RID, "junk": [1, 2]}), RID),
        (body({"request_id": "nope"}), None),
        (body({"request_id": 5}), None),
        (body({"requestId": RID}), None),
        (body([{"request_id": RID}]), None),
        (b"\xff" + body(EXAMPLE), None),
        (b"not json", None),
        (b"", None),
        (f'{{"request_id": "{RID}", "request_id": "{RID}"}}', None),
        (b"[" * 100_000, None),
        ("\ud800", None),
        (body(EXAMPLE)[:-1] + b" " * 60_000 + b"}", RID),  # over 16 KiB, under the queue's 64
        (body(EXAMPLE)[:-1] + b" " * 70_000 + b"}", None),  # beyond what a queue delivers
    ],
)
def test_readable_request_id(raw: bytes | str, expected: str | None):
    """readable_request_id returns the lowercase UUID when there is one, else None; never raises."""
    assert readable_request_id(raw) == expected


def test_readable_request_id_of_a_non_body_is_none():
    """readable_request_id never raises, even for a value that is not a body."""
    assert readable_request_id(None) is None  # type: ignore[arg-type]


def test_problems_are_field_problems():
    """InvalidRequest carries FieldProblem instances with readable str() forms."""
    with pytest.raises(InvalidRequest) as caught:
        parse_request(body(request(location="")))
    (problem,) = caught.value.problems
    assert isinstance(problem, FieldProblem)
    assert str(problem).startswith("location: ")
