"""The messages the function writes to its own queue: a wake-up, not a source of truth.

A chain message names the request, the run, the chain token and the step it may perform; the
status record decides whether it still may. ``attempt`` is informational (for operators reading
the queue); the record's attempt counter is the one that counts.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from provisioning.contract import canonical_uuid
from provisioning.errors import FieldProblem, InvalidRequest

CHAIN_FIELDS = frozenset({"request_id", "run", "chain", "step", "attempt"})
# Fields only the SPA's requests carry: a document with one of them is a request that forged
# ``chain`` (the contract rejects it, naming that field), not a malformed chain message.
REQUEST_ONLY_FIELDS = frozenset(
    {"subscription_id", "resource_group", "location", "cluster", "tags"}
)


@dataclass(frozen=True, slots=True)
class ChainMessage:
    request_id: str
    run: int
    chain: str
    step: int
    attempt: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queue trigger's message as plain data: ``wire`` is its text exactly as it was queued."""

    id: str
    wire: bytes
    dequeue_count: int
    # The receipt of this delivery: lets the function push the message's visibility out.
    pop_receipt: str | None = None

    @property
    def body(self) -> bytes:
        """The decoded JSON bytes; raises InvalidRequest when the text is not base64."""
        return decode_wire(self.wire)


def decode_wire(wire: bytes) -> bytes:
    """The JSON bytes inside a message's text: the contract's base64 of UTF-8 JSON.

    host.json sets ``messageEncoding: none`` so that this happens here, where a message that
    is not base64 can be rejected once, with a reason, and archived (see README, "Poison").
    """
    try:
        return base64.b64decode(wire.strip(), validate=True)
    except (binascii.Error, ValueError):
        problem = FieldProblem(
            "$", "the message is not base64 text (the contract is base64 of UTF-8 JSON)"
        )
        raise InvalidRequest([problem]) from None


def new_chain_token() -> str:
    return secrets.token_hex(16)


def parse_chain_message(document: Any) -> ChainMessage | None:
    """The chain message in a decoded JSON document, or None when it is not one (no ``chain``)."""
    if not isinstance(document, dict) or "chain" not in document:
        return None
    if REQUEST_ONLY_FIELDS & set(document):
        return None
    problems = [FieldProblem(k, "unknown field") for k in sorted(set(document) - CHAIN_FIELDS)]
    problems += [FieldProblem(k, "is required") for k in sorted(CHAIN_FIELDS - set(document))]
    for key in ("run", "step", "attempt"):
        value = document.get(key)
        if key in document and (type(value) is not int or value < 0):
            problems.append(FieldProblem(key, "must be a non-negative integer"))
    if "chain" in document and not isinstance(document["chain"], str):
        problems.append(FieldProblem("chain", "must be a string"))
    if "request_id" in document and canonical_uuid(document["request_id"]) is None:
        problems.append(FieldProblem("request_id", "must be a UUID"))
    if problems:
        raise InvalidRequest(problems, canonical_uuid(document.get("request_id")))
    return ChainMessage(
        request_id=str(canonical_uuid(document["request_id"])),
        run=document["run"],
        chain=document["chain"],
        step=document["step"],
        attempt=document["attempt"],
    )
