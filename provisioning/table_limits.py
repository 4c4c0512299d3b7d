"""Azure Table storage's size limits, computed the way the service computes them.

The service stores strings as UTF-16, so a string property's size is its UTF-16 bytes, not its
UTF-8 or character count. Limits (Table service data model): a string or binary property holds
at most 64 KiB; an entity holds at most 1 MiB, counted as 4 bytes, plus the keys' UTF-16 bytes,
plus for each property 8 bytes, its name's UTF-16 bytes and its value's size (a string 4 bytes
plus its UTF-16 bytes, binary 4 bytes plus its length, Int32 4, Int64/Double/DateTime 8,
Boolean 1); and at most 252 properties besides PartitionKey, RowKey and Timestamp.
Checking before the write turns "400 PropertyValueTooLarge from storage" into a clear refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from provisioning.errors import ErrorInfo, TerminalError
from provisioning.texts import utf16_units

MAX_PROPERTY_BYTES = 64 * 1024
MAX_ENTITY_BYTES = 1024 * 1024
MAX_PROPERTIES = 252
KEYS = ("PartitionKey", "RowKey")


def utf16_bytes(text: str) -> int:
    return 2 * utf16_units(text)  # two bytes a code unit


def value_bytes(value: Any) -> int:
    """The size of one property value as the service counts it."""
    if isinstance(value, str):
        return 4 + utf16_bytes(value)
    if isinstance(value, bytes | bytearray):
        return 4 + len(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 4 if -(2**31) <= value < 2**31 else 8
    if isinstance(value, float | datetime):
        return 8
    return 4 + utf16_bytes(str(value))


def entity_bytes(entity: Mapping[str, Any]) -> int:
    keys = "".join(str(entity.get(key, "")) for key in KEYS)
    size = 4 + utf16_bytes(keys)
    for name, value in entity.items():
        if name not in KEYS and value is not None:
            size += 8 + utf16_bytes(name) + value_bytes(value)
    return size


def entity_problem(entity: Mapping[str, Any]) -> ErrorInfo | None:
    """Why the service would refuse to store ``entity`` (with the service's own error code),
    or None when it fits."""
    properties = [name for name, value in entity.items() if name not in KEYS and value is not None]
    if len(properties) > MAX_PROPERTIES:
        return ErrorInfo(
            "TooManyProperties",
            f"{len(properties)} properties, over Table storage's {MAX_PROPERTIES}",
        )
    for name in properties:
        value = entity[name]
        if isinstance(value, str | bytes | bytearray):
            size = value_bytes(value) - 4
            if size > MAX_PROPERTY_BYTES:
                return ErrorInfo(
                    "PropertyValueTooLarge",
                    f"property {name} would be {size} bytes (UTF-16 for text), over Table "
                    f"storage's {MAX_PROPERTY_BYTES} bytes per property",
                )
    total = entity_bytes(entity)
    if total > MAX_ENTITY_BYTES:
        return ErrorInfo(
            "EntityTooLarge",
            f"the entity would be {total} bytes, over Table storage's {MAX_ENTITY_BYTES} bytes",
        )
    return None


class TooLargeToStore(TerminalError):
    """What the app was about to write cannot be stored: refused before the write."""


def check_fits(entity: Mapping[str, Any]) -> None:
    """Raise TooLargeToStore, naming the limit, when the service would refuse ``entity``."""
    problem = entity_problem(entity)
    if problem is not None:
        raise TooLargeToStore(problem)
