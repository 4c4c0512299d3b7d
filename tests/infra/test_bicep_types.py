"""Every resource body in infra/*.bicep against Azure's own Bicep types (vendored from
Azure/bicep-types-az, tests/infra/bicep_types/types.json): no property the type does not declare
(BCP037), no literal of the wrong type (BCP036), no read-only property set (BCP073), no required
property missing (BCP035). The Bicep compiler is not needed, and nothing is deployed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.infra import bicep
from tests.infra.bicep_types import vendor
from tests.infra.bicep_types.check import check_source, vendored


@pytest.mark.parametrize("path", bicep.bicep_files(), ids=lambda p: p.name)
def test_every_resource_body_matches_its_type(path: Path) -> None:
    """0 problems, and the check did type literal values (a guard against checking nothing)."""
    report = check_source(path.read_bytes(), path.name)
    assert [str(p) for p in report.problems] == []
    assert report.resources > 0 and report.typed_values > report.resources


def test_only_the_types_in_use_are_vendored_and_their_source_is_named() -> None:
    """The vendored resource types are exactly those infra/*.bicep declares, each with its file."""
    data = vendored()
    assert set(data["resources"]) == set(vendor.used_resource_types())
    source = data["_source"]
    assert source["repository"] == "Azure/bicep-types-az"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert set(source["files"]) == set(data["resources"])
    assert all(
        f.startswith("generated/") and f.endswith("/types.json") for f in source["files"].values()
    )


MISTAKES = [
    # (what the copy changes, the diagnostic the compiler would give)
    ("allowSharedKeyAccess: false", "allowSharedKeyAcess: false", "BCP037"),
    ("allowSharedKeyAccess: false", "allowSharedKeyAccess: 'false'", "BCP036"),
    ("    maximumInstanceCount: maximumInstanceCount", "    maximumInstanceCount: '100'", "BCP036"),
    ("evaluationFrequency: 'PT5M'", "evaluationFrequency: 5", "BCP036"),
    ("accessTier: 'Hot'", "accessTier: 'Hot'\n    primaryEndpoints: {}", "BCP073"),
    ("groupShortName: take('aksprov${resourceToken}', 12)\n", "", "BCP035"),
]


@pytest.mark.parametrize(("old", "new", "code"), MISTAKES, ids=[m[1].strip() for m in MISTAKES])
def test_a_mistake_in_a_copy_of_the_bicep_fails(
    tmp_path: Path, old: str, new: str, code: str
) -> None:
    """A copy of app.bicep with one deliberate mistake gets exactly that diagnostic."""
    copy = tmp_path / "app.bicep"
    shutil.copy(bicep.APP_BICEP, copy)
    source = copy.read_text(encoding="utf-8")
    assert source.count(old) >= 1, f"app.bicep no longer contains {old!r}"
    copy.write_text(source.replace(old, new, 1), encoding="utf-8")
    report = check_source(copy.read_bytes(), copy.name)
    assert [p.code for p in report.problems] == [code], [str(p) for p in report.problems]
