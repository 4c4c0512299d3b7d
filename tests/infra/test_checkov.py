"""checkov over infra/ (--framework bicep --skip-download), with the custom checks in
infra/checkov/: no parsing error, no failed check, every skip inline with a reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra import bicep

CUSTOM_CHECKS = bicep.INFRA / "checkov"
CUSTOM_IDS = {"CKV_AKSPROV_1", "CKV_AKSPROV_2", "CKV_AKSPROV_3"}
# checkov reads one skip per line (its comment regex stops at the first), so a resource with
# several skips has the first on its `resource … = {` line and the rest on the lines right after.
_SKIP = re.compile(r"checkov:skip=([A-Za-z0-9_-]+)(?::\s*(.*))?")
_RESOURCE_LINE = re.compile(r"^resource \w+ '[^']+' (existing )?= (if \(.*\) )?\{")


def _checkov() -> str | None:
    """The checkov executable: $CHECKOV, the venv `make infra-check` builds, or PATH."""
    candidates = [
        os.environ.get("CHECKOV"),
        str(bicep.ROOT / ".venv" / "checkov" / "bin" / "checkov"),
        shutil.which("checkov"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def _run_checkov(directory: Path) -> dict[str, Any]:
    executable = _checkov()
    if executable is None:
        pytest.skip("checkov is not installed: `make infra-check` installs it into .venv/checkov")
    completed = subprocess.run(
        [
            executable,
            "--directory",
            str(directory),
            "--framework",
            "bicep",
            "--skip-download",
            "--external-checks-dir",
            str(CUSTOM_CHECKS),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    try:
        report: Any = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {completed.returncode}):\n{completed.stderr}")
    # One framework gives one report object; checkov wraps several in a list.
    reports = report if isinstance(report, list) else [report]
    bicep_reports = [r for r in reports if r.get("check_type") == "bicep"]
    assert len(bicep_reports) == 1, f"expected one bicep report, got {reports}"
    result: dict[str, Any] = bicep_reports[0]
    return result


def _ids(report: dict[str, Any], kind: str) -> set[str]:
    return {check["check_id"] for check in report["results"][kind]}


def test_checkov_passes_on_infra() -> None:
    """checkov parses every file, the custom checks run and pass, and no failed check remains."""
    report = _run_checkov(bicep.INFRA)
    summary = report["summary"]
    # checkov exits 0 on a file it cannot parse and silently skips its checks.
    assert summary["parsing_errors"] == 0, summary
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}): "
        f"{c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "fix these or skip them inline with a reason:\n" + "\n".join(failed)
    assert _ids(report, "passed_checks") >= CUSTOM_IDS, "the custom checks did not run"
    for skipped in report["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} has no reason"


def test_custom_checks_fail_on_unsafe_resources(tmp_path: Path) -> None:
    """The custom checks flag shared keys, blob public access and App Insights local auth."""
    (tmp_path / "unsafe.bicep").write_text(
        "resource st 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n"
        "  name: 'stunsafe'\n"
        "  location: 'westeurope'\n"
        "  kind: 'StorageV2'\n"
        "  sku: {\n    name: 'Standard_GRS'\n  }\n"
        "  properties: {\n    allowSharedKeyAccess: true\n  }\n"
        "}\n"
        "resource ai 'Microsoft.Insights/components@2020-02-02' = {\n"
        "  name: 'appi-unsafe'\n"
        "  location: 'westeurope'\n"
        "  kind: 'web'\n"
        "  properties: {\n    Application_Type: 'web'\n    DisableLocalAuth: false\n  }\n"
        "}\n",
        encoding="utf-8",
    )
    report = _run_checkov(tmp_path)
    assert report["summary"]["parsing_errors"] == 0
    assert _ids(report, "failed_checks") >= CUSTOM_IDS


def test_every_skip_is_inline_on_its_resource_with_a_reason() -> None:
    """Each checkov:skip sits on a `resource … = {` line or the comment lines right after it."""
    problems = []
    for path in bicep.bicep_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            match = _SKIP.search(line)
            if match is None:
                continue
            where = f"{path.name}:{number}"
            if not match.group(2) or len(match.group(2).strip()) < 20:
                problems.append(f"{where}: {match.group(1)} has no reason")
            start = number - 1
            while start > 0 and lines[start].strip().startswith("// checkov:skip="):
                start -= 1
            if not _RESOURCE_LINE.match(lines[start]):
                problems.append(f"{where}: {match.group(1)} is not on a resource line")
    assert not problems, "\n".join(problems)
