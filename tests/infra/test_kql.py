"""Every KQL query the project ships (docs/operations.kql, the workbook, the alerts) is parsed
and analysed by Microsoft's Kusto language service (@kusto/language-service-next, run by node)
against the declared schema of the App Insights tables: 0 errors, so a misspelled column or
function fails here, not in the Portal. Each customDimensions field a query reads must be one the
app emits (tests/infra/telemetry.py runs the app's logging paths through an OTel exporter)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest

from provisioning.status import Phase
from tests.infra import bicep, kql_catalogue, telemetry

KQL = bicep.ROOT / "tests" / "infra" / "kql"
CHECKER = KQL / "check.cjs"
SCHEMA = KQL / "appinsights_tables.json"
SERVICE = bicep.ROOT / "node_modules" / "@kusto" / "language-service-next"


def analyse(queries: dict[str, str]) -> dict[str, Any]:
    """name -> {"diagnostics": [...], "customDimensions": [...]} from the language service."""
    node = shutil.which("node")
    # Not a skip: `make test` installs both (make deps), and a skipped check would pass silently.
    assert node is not None and SERVICE.exists(), "node and @kusto/language-service-next: make deps"
    tables = json.loads(SCHEMA.read_text(encoding="utf-8"))["tables"]
    done = subprocess.run(
        [node, str(CHECKER)],
        input=json.dumps({"tables": tables, "queries": queries}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@cache
def _shipped() -> dict[str, Any]:
    return analyse(kql_catalogue.all_queries())


def _errors(result: dict[str, Any]) -> list[str]:
    return [
        f"{d['code']} at {d['start']}: {d['message']}"
        for d in result["diagnostics"]
        if d["severity"] == "Error"
    ]


def test_the_project_ships_queries_in_each_place() -> None:
    """The collectors find the catalogue's, the workbook's and the alerts' queries."""
    names = kql_catalogue.all_queries()
    assert sum(n.startswith("operations.kql: ") for n in names) >= 10
    assert sum(n.startswith("workbook.json: ") for n in names) >= 8
    assert {n for n in names if n.startswith("alerts/")} == {
        "alerts/failure-rate.kql",
        "alerts/overdue.kql",
        "alerts/poison-of-poison.kql",
        "alerts/poison.kql",
    }


@pytest.mark.parametrize("name", sorted(kql_catalogue.all_queries()))
def test_query_parses_against_the_app_insights_schema(name: str) -> None:
    """0 errors from the Kusto language service, names and types resolved against the schema."""
    assert _errors(_shipped()[name]) == []


@pytest.mark.parametrize("name", sorted(kql_catalogue.all_queries()))
def test_query_reads_only_custom_dimensions_the_app_emits(name: str) -> None:
    """Every customDimensions.<field> a query reads is an attribute of the app's log records."""
    read = set(_shipped()[name]["customDimensions"])
    assert read <= telemetry.emitted_fields(), sorted(read - telemetry.emitted_fields())


def _allowed_values() -> dict[str, frozenset[str]]:
    """The values a query may compare these fields with: every phase, and the outcomes logged."""
    return {
        "phase": frozenset(phase.value for phase in Phase),
        "outcome": telemetry.emitted_values("outcome"),
    }


@pytest.mark.parametrize("name", sorted(kql_catalogue.all_queries()))
def test_query_compares_phase_and_outcome_only_with_values_the_app_logs(name: str) -> None:
    """`phase == "x"` names a Phase; `outcome == "x"` an outcome the app's records carry."""
    allowed = _allowed_values()
    wrong = [
        (field, value)
        for field, value in _shipped()[name]["comparisons"]
        if field in allowed and value not in allowed[field]
    ]
    assert not wrong, wrong


def test_the_checker_fails_a_misspelled_column_function_or_field() -> None:
    """A typo in a column or a function is an error; a misspelled field is found as read."""
    result = analyse(
        {
            "column": "traces | where timestmp > ago(1h)",
            "function": "traces | summarize dcunt(message)",
            "field": "traces | where tostring(customDimensions['requestid']) != ''",
            "value": "traces | where tostring(customDimensions.outcome) == 'poisond'",
        }
    )
    assert [d["code"] for d in result["column"]["diagnostics"]] == ["KS142"]
    assert "KS211" in [d["code"] for d in result["function"]["diagnostics"]]
    assert result["field"]["customDimensions"] == ["requestid"]
    assert "requestid" not in telemetry.emitted_fields()
    assert result["value"]["comparisons"] == [["outcome", "poisond"]]
    assert "poisond" not in _allowed_values()["outcome"]


def test_workbook_and_alerts_use_catalogue_queries_verbatim() -> None:
    """Each workbook item and alert file is a docs/operations.kql query, its comments aside."""
    catalogue = {
        kql_catalogue.without_comments(q): title for title, q in kql_catalogue.catalogue().items()
    }
    shipped = kql_catalogue.workbook_queries() | kql_catalogue.alert_queries()
    unknown = [name for name, query in shipped.items() if query not in catalogue]
    assert not unknown, f"not in docs/operations.kql: {unknown}"
    for title, query in kql_catalogue.workbook_queries().items():
        assert catalogue[query] == title, f"workbook item {title!r} holds {catalogue[query]!r}"


def test_app_bicep_loads_every_alert_query_and_the_workbook() -> None:
    """app.bicep's scheduled-query rules load the alert files, and the workbook its JSON."""
    source = bicep.APP_BICEP.read_text(encoding="utf-8")
    for name in kql_catalogue.alert_queries():
        assert f"loadTextContent('alerts/{name}')" in source, name
    assert "loadTextContent('workbook.json')" in source


# The telemetry type that fills each table the queries read (host.json's excludedTypes names).
TELEMETRY_TYPES = {"traces": "Trace", "requests": "Request", "exceptions": "Exception"}


def test_host_json_never_samples_the_rows_the_queries_read() -> None:
    """Every table a query reads is filled by a telemetry type sampling excludes (host.json)."""
    host = json.loads((bicep.ROOT / "host.json").read_text(encoding="utf-8"))
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    excluded = set(sampling["excludedTypes"].split(";"))
    tables = {table for result in _shipped().values() for table in result["tables"]}
    assert tables, "the language service resolved no table"
    assert tables <= set(TELEMETRY_TYPES), f"map these tables to a telemetry type: {tables}"
    missing = {TELEMETRY_TYPES[table] for table in tables} - excluded
    assert not missing, f"host.json samples {missing} away"
