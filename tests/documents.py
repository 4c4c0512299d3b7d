"""Edited copies of JSON documents, for tests and the corpus generator alike."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

DELETE = object()
"""A value for :func:`edited` that removes the field instead of setting it."""


def edited(document: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with changes keyed by path (``cluster__name``)."""
    out = copy.deepcopy(dict(document))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = out
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return out
