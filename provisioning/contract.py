"""The queue-message contract between the SPA and the function: parse and validate, nothing else.

``parse_request`` turns the host-decoded message body (UTF-8 JSON, at most 16 KiB) into a frozen
``ClusterRequest`` or raises exactly one ``InvalidRequest`` that names every bad field at once.
Pure: no I/O, no logging, no global state.

Decisions this module makes (and the tests pin):

* Paths: top-level fields by name, ``cluster.<field>``, ``tags.<tag name>``; ``$`` is the body
  as a whole (empty, too big, not UTF-8, not JSON, not an object). Each path is reported once.
* ``null`` is never accepted. An optional field is either absent (default applies) or valid.
* ``request_id`` / ``subscription_id``: canonical 8-4-4-4-12 hexadecimal only (no braces, no
  ``urn:uuid:``), normalised to lowercase.
* ``location``: ASCII is checked first, then lowercased and every space removed
  (``"West Europe"`` -> ``"westeurope"``); the result must be 1-50 ASCII letters and digits.
  Checking ASCII before lowercasing matters: ``"\\u212a".lower()`` (Kelvin sign) is ``"k"``.
  Regions are not checked against a list (that needs I/O and the list changes).
* ``resource_group`` and ``cluster.name`` are ASCII only and keep their case (ARM compares names
  case-insensitively but keeps the caller's spelling).
* ``dns_prefix`` = the cluster name lowercased with ``_`` replaced by ``-``. Nothing is truncated:
  if the result is not 1-54 characters of letters, digits and ``-`` starting and ending with a
  letter or digit (AKS's rule), ``cluster.name`` is rejected. For a name that passes the cluster
  name rule, only the length can fail, so cluster names are effectively limited to 54 characters.
* ``node_resource_group`` = ``MC_<resource_group>_<cluster name>_<location>`` (normalised
  location); over 80 characters (AKS's limit) is reported on ``resource_group``.
* ``cluster.vm_size``: ``Standard_`` then ASCII letter/digit runs separated by single ``_`` or
  ``-`` (``-`` is needed for constrained-vCPU sizes such as ``Standard_E32-16s_v5``), <= 64.
* ``cluster.kubernetes_version``: ``MAJOR.MINOR`` or ``MAJOR.MINOR.PATCH``, ASCII digits, no
  leading zeros, at most 4 digits per part.
* Tags: ARM's limits counting the app's own ``APP_TAG_NAMES``: at most 50 tags in total (so 47
  user tags), names 1-512 and values 0-256 characters counted in UTF-16 code units (as ARM does;
  the same as characters outside emoji and other astral symbols), no ``< > % & \\ ? /`` in
  names, no lone surrogates anywhere. Names are compared case-insensitively (``str.casefold``):
  a name equal to an app tag name, or two names that differ only by case, are rejected (every
  name of a colliding group is reported). Tags are returned sorted by name.
* Oversized bodies are reported with their size and not validated further; the ``request_id``
  is still read from them (best effort) so the caller can record ``failed``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from provisioning.errors import FieldProblem, InvalidRequest
from provisioning.texts import utf16_units

__all__ = [
    "APP_TAG_NAMES",
    "DEFAULT_NODE_COUNT",
    "DEFAULT_VM_SIZE",
    "MAX_MESSAGE_BYTES",
    "RESERVED_FIELDS",
    "ClusterRequest",
    "ClusterSpec",
    "canonical_uuid",
    "normalise_location",
    "parse_accepted",
    "parse_request",
    "read_accepted",
    "readable_request_id",
]

MAX_MESSAGE_BYTES = 16 * 1024
"""The largest JSON body (in bytes, before base64) the SPA may send."""

MAX_SCANNED_BYTES = 64 * 1024
"""Bodies beyond the queue's 64 KiB message limit are not even scanned for a ``request_id``."""

MANAGED_BY_TAG = "managed-by"
REQUEST_ID_TAG = "request_id"
REQUESTED_BY_TAG = "requested-by"
APP_TAG_NAMES = (MANAGED_BY_TAG, REQUEST_ID_TAG, REQUESTED_BY_TAG)
"""Tags the app adds to every resource it creates; they count against ARM's 50-tag limit."""

RESERVED_FIELDS = ("attempt", "chain", "step", "run", "kind")
"""Top-level fields only the function writes (on its own re-enqueued messages)."""

DEFAULT_NODE_COUNT = 3
DEFAULT_VM_SIZE = "Standard_D4s_v5"

BODY = "$"
MAX_TAGS = 50
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 256
MAX_RESOURCE_GROUP = 90
MAX_LOCATION = 50
MAX_CLUSTER_NAME = 63
MAX_DNS_PREFIX = 54
MAX_NODE_RESOURCE_GROUP = 80
MAX_VM_SIZE = 64

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RESOURCE_GROUP = re.compile(r"[A-Za-z0-9_.()-]+")
_LOCATION = re.compile(r"[a-z0-9]+")
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")
_DNS_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_VM_SIZE = re.compile(r"Standard_[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*")
_VERSION = re.compile(r"(?:0|[1-9][0-9]{0,3})\.(?:0|[1-9][0-9]{0,3})(?:\.(?:0|[1-9][0-9]{0,3}))?")
_FORBIDDEN_IN_TAG_NAME = frozenset("<>%&\\?/")
_SHOWN = 60


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """The cluster part of a request, defaults applied."""

    name: str
    kubernetes_version: str | None
    node_count: int
    vm_size: str


@dataclass(frozen=True, slots=True)
class ClusterRequest:
    """A validated, normalised request; equal requests mean the same cluster."""

    request_id: str
    subscription_id: str
    resource_group: str
    location: str
    cluster: ClusterSpec
    tags: tuple[tuple[str, str], ...]

    @property
    def dns_prefix(self) -> str:
        """The cluster name lowercased with ``_`` replaced by ``-`` (validated to fit AKS)."""
        return _dns_prefix(self.cluster.name)

    @property
    def node_resource_group(self) -> str:
        """``MC_<resource_group>_<cluster name>_<location>``, AKS's default (at most 80)."""
        return _node_resource_group(self.resource_group, self.cluster.name, self.location)

    def to_dict(self) -> dict[str, Any]:
        """The canonical contract form: normalised, defaults explicit, absent version omitted."""
        cluster: dict[str, Any] = {
            "name": self.cluster.name,
            "node_count": self.cluster.node_count,
            "vm_size": self.cluster.vm_size,
        }
        if self.cluster.kubernetes_version is not None:
            cluster["kubernetes_version"] = self.cluster.kubernetes_version
        return {
            "request_id": self.request_id,
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "location": self.location,
            "cluster": cluster,
            "tags": dict(self.tags),
        }

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical JSON of ``to_dict()``: sorted keys, no spaces, UTF-8."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_request(
    body: bytes | str,
    *,
    max_node_count: int = 100,
    new_request_id: Callable[[], str] | None = None,
) -> ClusterRequest:
    """Validate a decoded message body; raise one ``InvalidRequest`` naming every bad field.

    With ``new_request_id`` (the HTTP front door), an object without ``request_id`` is given
    one before it is checked: the body is still read once, so nothing it sent is lost."""
    if isinstance(max_node_count, bool) or max_node_count < 1:
        raise ValueError(f"max_node_count must be a positive integer, not {max_node_count!r}")
    document = _load(body)
    if not isinstance(document, dict):
        problem = FieldProblem(BODY, f"must be a JSON object, not {_json_type(document)}")
        raise InvalidRequest([problem])
    if new_request_id is not None and "request_id" not in document:
        document["request_id"] = new_request_id()
    problems = _check_request(document, max_node_count)
    if problems:
        raise InvalidRequest(problems, request_id=_request_id_of(document))
    return _build(document)


def parse_accepted(body: bytes | str) -> ClusterRequest:
    """Re-read a payload the function held to MAX_NODE_COUNT when it first saw it (a stored
    request, a poisoned one): its shape is checked, not today's bound."""
    return parse_request(body, max_node_count=_UNBOUNDED)


_UNBOUNDED = 2**63 - 1
# The shape of an accepted payload as the status record stores it (``ClusterRequest.to_dict``).
_ACCEPTED_SHAPE: dict[str, type] = {
    "request_id": str,
    "subscription_id": str,
    "resource_group": str,
    "location": str,
    "cluster": dict,
    "tags": dict,
}
_ACCEPTED_CLUSTER_SHAPE: dict[str, type] = {"name": str, "node_count": int, "vm_size": str}


def read_accepted(stored: str) -> ClusterRequest:
    """Read back a payload a run accepted (the status record's ``request_json``).

    Accepted means accepted: the contract's rules were applied once, when the request arrived,
    and a later step does not apply them again, so a rule tightened since then applies to new
    requests only and never turns an in-flight run into a crash loop. Only the stored shape is
    checked (the fields and their JSON types); a record that does not have it raises
    InvalidRequest naming the fields.
    """
    try:
        document = json.loads(stored)
    except (ValueError, RecursionError):
        document = None
    problems = _shape_problems(document, _ACCEPTED_SHAPE, "")
    if not problems:
        cluster = document["cluster"]
        problems = _shape_problems(cluster, _ACCEPTED_CLUSTER_SHAPE, "cluster.")
        version = cluster.get("kubernetes_version")
        if version is not None and not isinstance(version, str):
            problems.append(FieldProblem("cluster.kubernetes_version", "must be a string"))
        tags = document["tags"]
        if not all(isinstance(value, str) for value in tags.values()):
            problems.append(FieldProblem("tags", "must map names to strings"))
    if problems:
        raise InvalidRequest(problems, request_id=_request_id_of(document))
    return _build(document)


def _shape_problems(document: Any, shape: Mapping[str, type], prefix: str) -> list[FieldProblem]:
    if not isinstance(document, dict):
        return [FieldProblem(prefix.rstrip(".") or BODY, "the stored payload is not an object")]
    return [
        FieldProblem(prefix + name, f"must be {kind.__name__} in a stored payload")
        for name, kind in shape.items()
        if not isinstance(document.get(name), kind) or isinstance(document.get(name), bool)
    ]


def canonical_uuid(value: Any) -> str | None:
    """The lowercase form of a UUID written canonically (8-4-4-4-12 hexadecimal), else None."""
    return value.lower() if isinstance(value, str) and _UUID.fullmatch(value) else None


def normalise_location(value: str) -> str:
    """An Azure region as ARM names it: ``"West Europe"`` -> ``"westeurope"``."""
    return value.replace(" ", "").lower()


def example_request() -> dict[str, Any]:
    """The contract's documented example (README, "Message contract"), as a fresh dict."""
    return {
        "request_id": "3f6c2a1e-8d4b-4c1a-9a57-2f1b6f3e9c10",
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "resource_group": "rg-elb-cluster",
        "location": "westeurope",
        "cluster": {
            "name": "aks-elb",
            "kubernetes_version": "1.31",
            "node_count": 3,
            "vm_size": "Standard_D4s_v5",
        },
        "tags": {"team": "elb"},
    }


def readable_request_id(body: bytes | str) -> str | None:
    """The lowercase ``request_id`` of a JSON object body if it is a valid UUID; never raises."""
    try:
        raw = _as_bytes(body)
        if len(raw) > MAX_SCANNED_BYTES:
            return None
        document = _loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, TypeError):  # UnicodeError and JSONDecodeError included
        return None
    return _request_id_of(document)


# --- decoding -------------------------------------------------------------------------------


class _JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers keys given more than once (the last value is kept)."""

    __slots__ = ("duplicates",)
    duplicates: frozenset[str]

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        duplicates: set[str] = set()
        for key, _ in pairs:
            (duplicates if key in seen else seen).add(key)
        self.duplicates = frozenset(duplicates)


@dataclass(frozen=True, slots=True)
class _NonFinite:
    """``NaN``/``Infinity``/``-Infinity`` as decoded; not JSON, so never a valid value."""

    literal: str


def _as_bytes(body: bytes | str) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"a message body is bytes or str, not {type(body).__name__}")


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_JsonObject, parse_constant=_NonFinite)


def _load(body: bytes | str) -> Any:
    try:
        raw = _as_bytes(body)
    except UnicodeEncodeError:
        raise InvalidRequest([FieldProblem(BODY, "is not valid Unicode text")]) from None
    if len(raw) > MAX_MESSAGE_BYTES:
        reason = (
            f"is {len(raw)} bytes of JSON; the limit is {MAX_MESSAGE_BYTES} bytes (16 KiB) "
            "before base64 encoding"
        )
        raise InvalidRequest([FieldProblem(BODY, reason)], readable_request_id(raw))
    if not raw.strip():
        raise InvalidRequest([FieldProblem(BODY, "is empty; expected a JSON object")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"is not valid UTF-8 (bad byte at offset {exc.start})"
        raise InvalidRequest([FieldProblem(BODY, reason)]) from None
    try:
        return _loads(text)
    except RecursionError:
        raise InvalidRequest([FieldProblem(BODY, "is nested too deeply")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest([FieldProblem(BODY, f"is not valid JSON: {exc}")]) from None
    except ValueError:  # Python refuses integer literals of over 4300 digits
        raise InvalidRequest(
            [FieldProblem(BODY, "contains a number with too many digits")]
        ) from None


def _request_id_of(document: object) -> str | None:
    if not isinstance(document, dict) or "request_id" in _duplicates(document):
        return None
    return canonical_uuid(document.get("request_id"))


# --- checking -------------------------------------------------------------------------------

Checker = Callable[[str, Any], list[FieldProblem]]


def _check_request(document: Mapping[str, Any], max_node_count: int) -> list[FieldProblem]:
    fields: dict[str, Checker] = {
        "request_id": _check_uuid,
        "subscription_id": _check_uuid,
        "resource_group": _check_resource_group,
        "location": _check_location,
        "cluster": partial(_check_cluster, max_node_count=max_node_count),
        "tags": _check_tags,
    }
    required = ("request_id", "subscription_id", "resource_group", "location", "cluster")
    problems = _check_members(document, "", fields, required, RESERVED_FIELDS)
    return problems + _check_derived_names(document, problems)


def _check_members(
    obj: Mapping[str, Any],
    prefix: str,
    fields: Mapping[str, Checker],
    required: tuple[str, ...],
    reserved: tuple[str, ...] = (),
) -> list[FieldProblem]:
    """Check each member of a JSON object with its checker; flag unknown, doubled and missing."""
    problems: list[FieldProblem] = []
    for key, value in obj.items():
        path = prefix + _printable(key)
        if key in _duplicates(obj):
            problems.append(FieldProblem(path, "is given more than once; the value is ambiguous"))
        elif key in reserved:
            reason = (
                "is reserved for the function's own re-enqueued messages; the SPA must not send it"
            )
            problems.append(FieldProblem(path, reason))
        elif key not in fields:
            problems.append(FieldProblem(path, _unknown_field_reason(key, fields)))
        else:
            problems.extend(fields[key](path, value))
    problems.extend(FieldProblem(prefix + key, "is required") for key in required if key not in obj)
    return problems


def _unknown_field_reason(key: str, fields: Mapping[str, Checker]) -> str:
    reason = (
        "is not a field of the contract (unknown fields are rejected so that a typo never "
        "silently becomes a default)"
    )
    close = difflib.get_close_matches(key.lower(), list(fields), n=1, cutoff=0.75)
    return f"{reason}; did you mean '{close[0]}'?" if close else reason


@dataclass(frozen=True, slots=True)
class _Text:
    """How a string field is checked, in order: its type, ASCII, its length, its pattern."""

    pattern: re.Pattern[str]
    wrong_shape: str  # the reason when the pattern fails; ``{shown}`` is the value, quoted
    max_length: int | None = None  # 1..max_length, reported before the pattern unless combined
    length_first: bool = True  # False: a bad length gets the ``wrong_shape`` reason as well
    ascii_note: str | None = ""  # None: ASCII is not checked apart from the pattern
    expected: str = "a string"
    normalise: Callable[[str], str] | None = None  # applied before the pattern


def _check_text(
    path: str, value: Any, rule: _Text, then: Callable[[str], str | None] | None = None
) -> list[FieldProblem]:
    """Check a string against ``rule``, then ``then`` (a further reason, or None)."""
    if not isinstance(value, str):
        return [_type_problem(path, rule.expected, value)]
    note = rule.ascii_note
    if note is not None and (problem := _non_ascii_problem(path, value, note)):
        return [problem]
    text = rule.normalise(value) if rule.normalise else value
    bad_length = rule.max_length is not None and not 1 <= len(text) <= rule.max_length
    if bad_length and rule.length_first:
        reason = f"must be 1-{rule.max_length} characters long, not {len(text)}"
        return [FieldProblem(path, reason)]
    if bad_length or not rule.pattern.fullmatch(text):
        return [FieldProblem(path, rule.wrong_shape.format(shown=_show(value)))]
    further = then(value) if then else None
    return [FieldProblem(path, further)] if further else []


_UUID_TEXT = _Text(
    _UUID, "must be a UUID in 8-4-4-4-12 hexadecimal form, not {shown}", ascii_note=None
)
_RESOURCE_GROUP_TEXT = _Text(
    _RESOURCE_GROUP,
    "may contain only letters, digits and _ . ( ) -, not {shown}",
    max_length=MAX_RESOURCE_GROUP,
    ascii_note="ARM allows Unicode letters here",
)
_LOCATION_TEXT = _Text(
    _LOCATION,
    f"must be 1-{MAX_LOCATION} letters and digits once lowercased and stripped of spaces "
    "(e.g. 'westeurope'), not {shown}",
    max_length=MAX_LOCATION,
    length_first=False,
    normalise=normalise_location,
)
_CLUSTER_NAME_TEXT = _Text(
    _CLUSTER_NAME,
    "may contain only letters, digits, _ and -, and must start and end with a letter or "
    "digit, not {shown}",
    max_length=MAX_CLUSTER_NAME,
)
_VERSION_TEXT = _Text(
    _VERSION,
    "must be MAJOR.MINOR or MAJOR.MINOR.PATCH such as '1.31', not {shown}",
    ascii_note=None,
    expected="a string (omit it for the AKS default)",
)
_VM_SIZE_TEXT = _Text(
    _VM_SIZE,
    "must be a VM size name such as 'Standard_D4s_v5' (Standard_ then letters, digits, "
    f"_ and -; at most {MAX_VM_SIZE} characters), not {{shown}}",
    max_length=MAX_VM_SIZE,
    length_first=False,
)


def _check_uuid(path: str, value: Any) -> list[FieldProblem]:
    return _check_text(path, value, _UUID_TEXT)


def _check_resource_group(path: str, value: Any) -> list[FieldProblem]:
    def period(name: str) -> str | None:
        return "must not end with a period" if name.endswith(".") else None

    return _check_text(path, value, _RESOURCE_GROUP_TEXT, period)


def _check_location(path: str, value: Any) -> list[FieldProblem]:
    return _check_text(path, value, _LOCATION_TEXT)


def _check_cluster(path: str, value: Any, max_node_count: int) -> list[FieldProblem]:
    if not isinstance(value, dict):
        return [_type_problem(path, "an object", value)]

    fields: dict[str, Checker] = {
        "name": _check_cluster_name,
        "kubernetes_version": _check_kubernetes_version,
        "node_count": partial(_check_node_count, max_node_count=max_node_count),
        "vm_size": _check_vm_size,
    }
    problems = _check_members(value, f"{path}.", fields, ("name",))
    if "node_count" not in value and max_node_count < DEFAULT_NODE_COUNT:
        reason = f"absent means {DEFAULT_NODE_COUNT}, which exceeds the maximum {max_node_count}"
        problems.append(FieldProblem(f"{path}.node_count", reason))
    return problems


def _check_cluster_name(path: str, value: Any) -> list[FieldProblem]:
    return _check_text(path, value, _CLUSTER_NAME_TEXT, _dns_prefix_reason)


def _dns_prefix_reason(cluster_name: str) -> str | None:
    prefix = _dns_prefix(cluster_name)
    if len(prefix) <= MAX_DNS_PREFIX and _DNS_PREFIX.fullmatch(prefix):
        return None
    return (
        f"gives the DNS prefix {_show(prefix)} ({len(prefix)} characters; lowercased, _ as -), "
        f"but AKS allows at most {MAX_DNS_PREFIX}; use a name of at most {MAX_DNS_PREFIX}"
    )


def _check_kubernetes_version(path: str, value: Any) -> list[FieldProblem]:
    return _check_text(path, value, _VERSION_TEXT)


def _check_node_count(path: str, value: Any, max_node_count: int) -> list[FieldProblem]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [_type_problem(path, "an integer", value)]
    if not 1 <= value <= max_node_count:
        return [FieldProblem(path, f"must be from 1 to {max_node_count}, not {value}")]
    return []


def _check_vm_size(path: str, value: Any) -> list[FieldProblem]:
    return _check_text(path, value, _VM_SIZE_TEXT)


def _check_tags(path: str, value: Any) -> list[FieldProblem]:
    if not isinstance(value, dict):
        return [_type_problem(path, "an object of tag names to string values", value)]
    problems: list[FieldProblem] = []
    total = len(value) + len(APP_TAG_NAMES)
    if total > MAX_TAGS:
        reason = (
            f"has {len(value)} tags; with the app's own {len(APP_TAG_NAMES)} "
            f"({', '.join(APP_TAG_NAMES)}) that is {total}, over ARM's limit of {MAX_TAGS}"
        )
        problems.append(FieldProblem(path, reason))
    collisions = _case_collisions(name for name in value if name not in _duplicates(value))
    for name, tag_value in value.items():
        if name in _duplicates(value):
            reasons = ["is given more than once"]
        else:
            reasons = _tag_name_reasons(name) + _tag_value_reasons(tag_value)
            if name in collisions:
                reasons.append(
                    f"differs only by case from {collisions[name]} (ARM tag names are "
                    "case-insensitive)"
                )
        if reasons:
            problems.append(FieldProblem(f"{path}.{_printable(name)}", "; ".join(reasons)))
    return problems


def _tag_name_reasons(name: str) -> list[str]:
    reasons: list[str] = []
    if _has_surrogate(name):
        return ["the name is not valid Unicode (lone surrogate)"]
    size = utf16_units(name)
    if not 1 <= size <= MAX_TAG_NAME:
        reasons.append(f"the name must be 1-{MAX_TAG_NAME} characters long, not {size}")
    forbidden = sorted(set(name) & _FORBIDDEN_IN_TAG_NAME)
    if forbidden:
        shown = " ".join(forbidden)
        reasons.append(f"the name contains {shown}; ARM forbids < > % & \\ ? / in tag names")
    if name.casefold() in APP_TAG_NAMES:
        reasons.append(f"the name is reserved for the app's own tags ({', '.join(APP_TAG_NAMES)})")
    return reasons


def _tag_value_reasons(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"the value must be a string, not {_json_type(value)}"]
    if _has_surrogate(value):
        return ["the value is not valid Unicode (lone surrogate)"]
    size = utf16_units(value)
    if size > MAX_TAG_VALUE:
        return [f"the value must be at most {MAX_TAG_VALUE} characters long, not {size}"]
    return []


def _case_collisions(names: Iterable[str]) -> dict[str, str]:
    """For each name sharing its case-folded form with another: the other names, for a reason."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.casefold(), []).append(name)
    collisions: dict[str, str] = {}
    for group in groups.values():
        if len(group) > 1:
            for name in group:
                collisions[name] = ", ".join(_show(other) for other in group if other != name)
    return collisions


def _check_derived_names(
    document: Mapping[str, Any], problems: list[FieldProblem]
) -> list[FieldProblem]:
    """The node resource group AKS derives must fit in 80 characters (checked when its parts are
    valid; the DNS prefix is checked with the cluster name)."""
    parts = ("resource_group", "cluster", "cluster.name", "location")
    if any(p.field in parts for p in problems) or not isinstance(document.get("cluster"), dict):
        return []
    resource_group = document["resource_group"]
    node_group = _node_resource_group(
        resource_group, document["cluster"]["name"], normalise_location(document["location"])
    )
    if len(node_group) <= MAX_NODE_RESOURCE_GROUP:
        return []
    reason = (
        f"with this cluster name and location gives the node resource group {_show(node_group)} "
        f"of {len(node_group)} characters; AKS allows at most {MAX_NODE_RESOURCE_GROUP} "
        "(shorten the resource group or cluster name)"
    )
    return [FieldProblem("resource_group", reason)]


# --- helpers --------------------------------------------------------------------------------


def _build(document: Mapping[str, Any]) -> ClusterRequest:
    cluster = document["cluster"]
    return ClusterRequest(
        request_id=document["request_id"].lower(),
        subscription_id=document["subscription_id"].lower(),
        resource_group=document["resource_group"],
        location=normalise_location(document["location"]),
        cluster=ClusterSpec(
            name=cluster["name"],
            kubernetes_version=cluster.get("kubernetes_version"),
            node_count=cluster.get("node_count", DEFAULT_NODE_COUNT),
            vm_size=cluster.get("vm_size", DEFAULT_VM_SIZE),
        ),
        tags=tuple(sorted(document.get("tags", {}).items())),
    )


def _dns_prefix(cluster_name: str) -> str:
    return cluster_name.lower().replace("_", "-")


def _node_resource_group(resource_group: str, cluster_name: str, location: str) -> str:
    return f"MC_{resource_group}_{cluster_name}_{location}"


def _duplicates(obj: Mapping[str, Any]) -> frozenset[str]:
    return obj.duplicates if isinstance(obj, _JsonObject) else frozenset()


def _non_ascii_problem(path: str, value: str, note: str = "") -> FieldProblem | None:
    char = next((c for c in value if not c.isascii()), None)
    if char is None:
        return None
    code_point = f"U+{ord(char):04X}"
    why = (
        "look-alike letters (such as Cyrillic U+0430 for Latin 'a') would name a different resource"
    )
    lead = f"{note}, but " if note else ""
    reason = (
        f"contains the non-ASCII character {char!r} ({code_point}); {lead}only ASCII is accepted"
    )
    return FieldProblem(path, f"{reason} because {why}")


def _type_problem(path: str, expected: str, value: Any) -> FieldProblem:
    return FieldProblem(path, f"must be {expected}, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return f"a number with a fraction or exponent ({value!r})"
    if isinstance(value, _NonFinite):
        return f"{value.literal} (which is not JSON)"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: str) -> str:
    """Quote a value for a reason, cut short so one long field cannot swamp the message."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}... ({len(value)} characters)"


def _printable(key: str) -> str:
    """A JSON key as it can appear in a path: lone surrogates (not encodable) escaped."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8") if _has_surrogate(key) else key


def _has_surrogate(value: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
