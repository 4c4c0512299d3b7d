"""Who may ask for what: ``REQUEST_POLICY`` parsed, and a caller's effective rule, as pure data.

``REQUEST_POLICY`` is a JSON object keyed by app role, plus ``"$queue"`` for messages dropped
directly on the queue. Each value is a rule with the optional fields ``subscriptions``,
``locations``, ``vm_sizes``, ``max_node_count`` and ``max_in_flight``; ``"$queue": false``
refuses direct queue messages.

A caller's effective rule is the union of the rules of their roles (lists merged, numbers at
their maximum), always capped by the global settings (``ALLOWED_SUBSCRIPTIONS``,
``ALLOWED_LOCATIONS``, ``ALLOWED_VM_SIZES``, ``MAX_NODE_COUNT``,
``MAX_IN_FLIGHT_PER_REQUESTER``). A field absent from a rule takes the global value. A role
with no entry contributes nothing, except ``Provisioning.Request``, whose missing entry means
"the global settings" (today's behaviour). For ``"$queue"``, ``max_in_flight`` limits queue
messages all together, and only when the rule sets it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from provisioning.contract import canonical_uuid, normalise_location
from provisioning.identity import ROLE_REQUEST, Requester

T = TypeVar("T")
QUEUE_RULE = "$queue"
_LIST_FIELDS = ("subscriptions", "locations", "vm_sizes")
_NUMBER_FIELDS = {"max_node_count": (1, 1000), "max_in_flight": (1, 1000)}


class PolicyError(ValueError):
    """``REQUEST_POLICY`` is malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the policy; None means "the global value"."""

    subscriptions: frozenset[str] | None = None
    locations: frozenset[str] | None = None
    vm_sizes: frozenset[str] | None = None  # casefolded: Azure compares VM sizes so
    max_node_count: int | None = None
    max_in_flight: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """A rule with every field decided: what one request of one caller may ask for.

    ``locations`` None means any location (as an empty ``ALLOWED_LOCATIONS`` does);
    ``max_in_flight`` None means unlimited. ``source`` names where the rule came from.
    """

    subscriptions: frozenset[str]
    locations: frozenset[str] | None
    vm_sizes: frozenset[str]
    max_node_count: int
    max_in_flight: int | None
    source: str


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    roles: tuple[tuple[str, Rule], ...] = ()
    queue: Rule | None = Rule()  # None: "$queue": false, direct queue messages refused

    def rule(self, role: str) -> Rule | None:
        return next((rule for name, rule in self.roles if name == role), None)


def parse_policy(text: str | None) -> RequestPolicy:
    """The policy in ``text`` (blank: the default policy); raises PolicyError saying where."""
    if text is None or not text.strip():
        return RequestPolicy()
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PolicyError(f"is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyError("must be a JSON object keyed by app role (and '$queue')")
    roles: list[tuple[str, Rule]] = []
    queue: Rule | None = Rule()
    for key, value in document.items():
        if key == QUEUE_RULE:
            queue = None if value is False else _rule(key, value)
        elif not key.strip() or key.startswith("$"):
            raise PolicyError(f"has the key {key!r}: keys are app roles, or '$queue'")
        else:
            roles.append((key, _rule(key, value)))
    return RequestPolicy(tuple(sorted(roles)), queue)


def _rule(key: str, value: Any) -> Rule:
    if not isinstance(value, dict):
        also = " or false" if key == QUEUE_RULE else ""
        raise PolicyError(f"[{key!r}] must be an object{also}")
    unknown = sorted(set(value) - {*_LIST_FIELDS, *_NUMBER_FIELDS})
    if unknown:
        known = ", ".join((*_LIST_FIELDS, *_NUMBER_FIELDS))
        raise PolicyError(f"[{key!r}] has the unknown field {unknown[0]!r} (known: {known})")
    fields: dict[str, Any] = {}
    for name in _LIST_FIELDS:
        if name in value:
            fields[name] = _list(key, name, value[name])
    for name, (low, high) in _NUMBER_FIELDS.items():
        if name in value:
            number = value[name]
            if isinstance(number, bool) or not isinstance(number, int):
                raise PolicyError(f"[{key!r}].{name} must be a whole number")
            if not low <= number <= high:
                raise PolicyError(f"[{key!r}].{name}={number} is outside {low}..{high}")
            fields[name] = number
    return Rule(**fields)


def _list(key: str, name: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError(f"[{key!r}].{name} must be a list of non-empty strings")
    if name == "subscriptions":
        bad = next((v for v in value if canonical_uuid(v) is None), None)
        if bad is not None:
            raise PolicyError(f"[{key!r}].subscriptions has {bad!r}, which is not a GUID")
        return frozenset(v.lower() for v in value)
    if name == "locations":
        return frozenset(normalise_location(v) for v in value)
    return frozenset(v.casefold() for v in value)


def limits_for_roles(roles: Iterable[str], policy: RequestPolicy, caps: Limits) -> Limits:
    """The effective rule of a caller holding ``roles``: their rules' union, capped."""
    held = sorted(set(roles))
    rules = [(role, rule) for role in held if (rule := policy.rule(role)) is not None]
    if ROLE_REQUEST in held and policy.rule(ROLE_REQUEST) is None:
        rules.append((ROLE_REQUEST, Rule()))
    source = "REQUEST_POLICY " + " + ".join(f"[{role!r}]" for role, _ in rules)
    return _merge([rule for _, rule in rules], caps, source, per_requester=True)


def limits_for_queue(policy: RequestPolicy, caps: Limits) -> Limits | None:
    """The rule of direct queue messages, or None when ``"$queue": false`` refuses them."""
    if policy.queue is None:
        return None
    return _merge([policy.queue], caps, "REQUEST_POLICY ['$queue']", per_requester=False)


def limits_for_redrive(requester: Requester, policy: RequestPolicy, caps: Limits) -> Limits:
    """The in-flight limit a re-drive of ``requester``'s failed request is held to.

    Only ``max_in_flight`` matters: the payload was admitted once, and its requester's rule is
    not judged again (only the global settings, by ``admission.admit_redrive``). A
    re-drive carries no token, so a user's or app's roles are unknown: they are held to
    ``MAX_IN_FLIGHT_PER_REQUESTER``, the cap of every requester's rule. A queue request keeps
    the ``"$queue"`` rule's ``max_in_flight`` (none when it sets none, or is false).
    """
    if requester.kind != "queue":
        return replace(
            caps,
            source="MAX_IN_FLIGHT_PER_REQUESTER (a re-drive carries no token, so no roles)",
        )
    queue = limits_for_queue(policy, caps)
    return queue or replace(caps, max_in_flight=None, source="REQUEST_POLICY ['$queue']: false")


def _combined(
    values: list[T | None], cap: T | None, join: Callable[[list[T]], T], bound: Callable[[T, T], T]
) -> T | None:
    """One field of the effective rule: the rules' values joined, then held to the cap. No rule,
    or any rule leaving the field to the global value (None), gives the cap itself."""
    given = [value for value in values if value is not None]
    if not values or len(given) < len(values):
        return cap
    joined = join(given)
    return joined if cap is None else bound(joined, cap)


def _union(sets: list[frozenset[str]]) -> frozenset[str]:
    return frozenset().union(*sets)


def _merge(rules: list[Rule], caps: Limits, source: str, *, per_requester: bool) -> Limits:
    def merged(name: str, cap: frozenset[str] | None) -> frozenset[str] | None:
        return _combined([getattr(rule, name) for rule in rules], cap, _union, frozenset.__and__)

    def highest(name: str, cap: int | None) -> int | None:
        return _combined([getattr(rule, name) for rule in rules], cap, max, min)

    in_flight = highest("max_in_flight", caps.max_in_flight)
    if not per_requester and rules[0].max_in_flight is None:
        in_flight = None  # queue messages are limited only when "$queue" says so
    return Limits(
        subscriptions=merged("subscriptions", caps.subscriptions) or frozenset(),
        locations=merged("locations", caps.locations),
        vm_sizes=merged("vm_sizes", caps.vm_sizes) or frozenset(),
        max_node_count=highest("max_node_count", caps.max_node_count) or caps.max_node_count,
        max_in_flight=in_flight,
        source=source,
    )
