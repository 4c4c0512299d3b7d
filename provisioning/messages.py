"""The messages the function writes to its own queue: a wake-up, not a source of truth.

A chain message names the request, the run, the chain token and the step it may perform; the
status record decides whether it still may. ``attempt`` is informational (for operators reading
the queue); the record's attempt counter is the one that counts.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from provisioning.errors import FieldProblem, InvalidRequest

CHAIN_FIELDS = frozenset({"request_id", "run", "chain", "step", "attempt"})


@dataclass(frozen=True, slots=True)
class ChainMessage:
    request_id: str
    run: int
    chain: str
    step: int
    attempt: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def new_chain_token() -> str:
    return secrets.token_hex(16)


def parse_chain_message(document: Any) -> ChainMessage | None:
    """The chain message in a decoded JSON document, or None when it is not one (no ``chain``)."""
    if not isinstance(document, dict) or "chain" not in document:
        return None
    problems = [FieldProblem(k, "unknown field") for k in sorted(set(document) - CHAIN_FIELDS)]
    problems += [FieldProblem(k, "is required") for k in sorted(CHAIN_FIELDS - set(document))]
    for key in ("run", "step", "attempt"):
        value = document.get(key)
        if key in document and (type(value) is not int or value < 0):
            problems.append(FieldProblem(key, "must be a non-negative integer"))
    if "chain" in document and not isinstance(document["chain"], str):
        problems.append(FieldProblem("chain", "must be a string"))
    if "request_id" in document and _uuid(document["request_id"]) is None:
        problems.append(FieldProblem("request_id", "must be a UUID"))
    if problems:
        raise InvalidRequest(problems, _uuid(document.get("request_id")))
    return ChainMessage(
        request_id=document["request_id"].lower(),
        run=document["run"],
        chain=document["chain"],
        step=document["step"],
        attempt=document["attempt"],
    )


def _uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else None
    except ValueError:
        return None
