"""The six actions preflight checks are the actions of the app's custom role in Bicep."""

from __future__ import annotations

from provisioning.preflight import REQUIRED_ACTIONS
from tests.infra.bicep import MAIN_BICEP, parse, property_key, string_value, walk


def _role_actions() -> list[str]:
    tree = parse(MAIN_BICEP.read_bytes())
    found: list[str] = []
    for node in walk(tree.root_node):
        if node.type == "object_property" and property_key(node) == "actions":
            found.extend(v for n in walk(node) if (v := string_value(n)) is not None)
    return found


def test_required_actions_are_the_role_actions() -> None:
    """preflight's REQUIRED_ACTIONS and infra/main.bicep's custom role list the same actions."""
    actions = _role_actions()
    assert len(actions) == 6
    assert sorted(actions) == sorted(REQUIRED_ACTIONS)
