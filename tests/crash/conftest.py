"""The long crash run is ``slow``: it runs only when selected (``-m slow``, as ``make crash`` does).

pyproject's ``addopts`` should deselect ``slow`` for the default run; until it does, this keeps
the long run out of a plain ``pytest`` by skipping it.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    expression = str(config.getoption("markexpr") or "")
    if "slow" in expression and "not slow" not in expression:
        return
    skip = pytest.mark.skip(reason="slow: run it with `make crash` (or `-m slow`)")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
