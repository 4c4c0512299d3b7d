"""``make demo`` end to end: through the front door with a minted token, and straight onto the
queue with ``--scenario queue``."""

from __future__ import annotations

import pytest

from localazure import demo


@pytest.mark.parametrize(
    ("scenario", "shown"),
    [
        ("visible", '"kind": "user"'),
        ("queue", '"kind": "queue"'),
        ("invalid", "POST /api/provisioning answered 400"),
    ],
)
def test_the_demo_runs(scenario: str, shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each scenario ends as it says, and names who asked (or the 400's fields)."""
    assert demo.main(["--scenario", scenario, "--timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert shown in out
    if scenario != "invalid":
        assert "succeeded" in out
