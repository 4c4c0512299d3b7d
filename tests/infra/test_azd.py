"""azd and CI/CD, offline: azure.yaml against azd's published v1.0 schema (vendored in
tests/infra/schemas), the deploy workflow against the GitHub workflow schema check-jsonschema
bundles, and the names that tie azure.yaml, the hooks and the Bicep together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.infra import bicep

ROOT = bicep.ROOT
AZURE_YAML = ROOT / "azure.yaml"
AZD_SCHEMA = ROOT / "tests" / "infra" / "schemas" / "azure.yaml.json"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Set by azd itself in every environment (not Bicep outputs).
AZD_VARIABLES = {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_SUBSCRIPTION_ID", "AZURE_PRINCIPAL_ID"}


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _azure_yaml() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(AZURE_YAML.read_text(encoding="utf-8"))
    return data


def test_azure_yaml_matches_azds_v1_schema() -> None:
    """check-jsonschema validates azure.yaml against the vendored azd v1.0 schema."""
    done = check_jsonschema("--schemafile", str(AZD_SCHEMA), str(AZURE_YAML))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_azure_yaml_fails_the_schema(tmp_path: Path) -> None:
    """An application name azd refuses, and a service without a host, fail the same check."""
    copy = tmp_path / "azure.yaml"
    text = AZURE_YAML.read_text(encoding="utf-8")
    copy.write_text(text.replace("name: aks-provisioner", "name: AKS_Provisioner", 1), "utf-8")
    assert check_jsonschema("--schemafile", str(AZD_SCHEMA), str(copy)).returncode == 1
    copy.write_text(text.replace("    host: function\n", "", 1), "utf-8")
    assert check_jsonschema("--schemafile", str(AZD_SCHEMA), str(copy)).returncode == 1


def test_the_service_is_a_python_function_app_tagged_in_the_bicep() -> None:
    """One service: host function, language python; app.bicep tags the app with its name."""
    services = _azure_yaml()["services"]
    assert len(services) == 1
    ((name, service),) = services.items()
    assert (service["host"], service["language"], service["project"]) == ("function", "python", ".")
    source = bicep.APP_BICEP.read_text(encoding="utf-8")
    assert f"'azd-service-name': '{name}'" in source
    assert "'azd-env-name': environmentName" in bicep.MAIN_BICEP.read_text(encoding="utf-8")


def _hook_scripts() -> dict[str, Path]:
    hooks = _azure_yaml()["hooks"]
    return {event: ROOT / hook["posix"]["run"] for event, hook in hooks.items()}


def test_hooks_run_the_preflight_and_sync_the_triggers() -> None:
    """postdeploy runs `python -m provisioning ... preflight` and syncfunctiontriggers."""
    scripts = _hook_scripts()
    assert set(scripts) == {"postdeploy", "postdown"}
    for script in scripts.values():
        assert script.is_file() and script.stat().st_mode & 0o111, f"{script} is not executable"
        assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    postdeploy = scripts["postdeploy"].read_text(encoding="utf-8")
    assert re.search(r"-m provisioning .*preflight", postdeploy)
    assert "/syncfunctiontriggers?api-version=" in postdeploy


def test_postdeploy_without_the_venv_fails_saying_how_to_make_it(tmp_path: Path) -> None:
    """No .venv: the hook stops with the command that creates it, instead of running the
    preflight with the system python3 (which lacks the app's requirements). The Azure CLI is a
    stand-in script that succeeds, so only the hook's own check can fail it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    az.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "AZURE_FUNCTION_APP_ID": "/subscriptions/x/resourceGroups/rg/sites/f",
        "AZURE_RESOURCE_GROUP": "rg",
        "AZURE_FUNCTION_APP_NAME": "f",
    }
    script = _hook_scripts()["postdeploy"]
    done = subprocess.run(
        ["sh", str(script)], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert ".venv/bin/python is missing" in done.stderr
    assert "python3.11 -m venv .venv" in done.stderr and "azd hooks run postdeploy" in done.stderr


def _outputs() -> set[str]:
    tree = bicep.parse(bicep.MAIN_BICEP.read_bytes())
    return {
        bicep.text(node.children[1])
        for node in bicep.walk(tree.root_node)
        if node.type == "output_declaration"
    }


def test_every_azure_variable_the_hooks_and_readme_use_is_an_output_or_azds() -> None:
    """$AZURE_* in the hooks and the README exist after `azd provision`."""
    outputs = _outputs()
    assert {"AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AZURE_LOCATION"} <= outputs
    texts = [p.read_text(encoding="utf-8") for p in _hook_scripts().values()]
    texts.append((ROOT / "README.md").read_text(encoding="utf-8"))
    used = {name for text in texts for name in re.findall(r"\$\{?(AZURE_[A-Z_]+)", text)}
    assert used, "no $AZURE_ variable found: the scan reads nothing"
    assert used <= outputs | AZD_VARIABLES, sorted(used - outputs - AZD_VARIABLES)


def test_main_takes_azds_parameters_from_the_environment() -> None:
    """environmentName, location and principalId come from azd's environment variables."""
    parameters = (bicep.INFRA / "main.parameters.json").read_text(encoding="utf-8")
    for param, variable in [
        ("environmentName", "AZURE_ENV_NAME"),
        ("location", "AZURE_LOCATION"),
        ("principalId", "AZURE_PRINCIPAL_ID"),
    ]:
        assert f'"{param}": {{ "value": "${{{variable}}}" }}' in parameters, param
        assert re.search(rf"^param {param} string", bicep.MAIN_BICEP.read_text("utf-8"), re.M)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    """check-jsonschema's bundled GitHub workflow schema accepts each workflow."""
    done = check_jsonschema("--builtin-schema", "vendor.github-workflows", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_workflow_fails_the_schema(tmp_path: Path) -> None:
    """A misspelled key (run-on) in a copy of the deploy workflow fails the check."""
    copy = tmp_path / "deploy.yml"
    shutil.copy(ROOT / ".github" / "workflows" / "deploy.yml", copy)
    copy.write_text(copy.read_text("utf-8").replace("runs-on:", "run-on:", 1), "utf-8")
    done = check_jsonschema("--builtin-schema", "vendor.github-workflows", str(copy))
    assert done.returncode == 1, done.stdout


def test_the_deploy_workflow_tests_first_and_signs_in_without_secrets() -> None:
    """deploy needs test; OIDC (id-token: write, azure/login with client-id); no secrets."""
    text = (ROOT / ".github" / "workflows" / "deploy.yml").read_text(encoding="utf-8")
    workflow = YAML(typ="safe").load(text)
    assert workflow["jobs"]["deploy"]["needs"] == "test"
    assert "make test" in str(workflow["jobs"]["test"]["steps"])
    assert workflow["permissions"]["id-token"] == "write"
    assert "secrets." not in text
    uses = [step.get("uses", "") for step in workflow["jobs"]["deploy"]["steps"]]
    assert any(u.startswith("azure/login@") for u in uses)


def test_the_hook_hands_the_preflight_the_apps_settings_less_its_identity() -> None:
    """app_settings.py turns `az ... appsettings list` into local settings the CLI can use."""
    listed = [
        {"name": "PROVISIONING_QUEUE_NAME", "value": "cluster-provisioning", "slotSetting": False},
        {
            "name": "AzureWebJobsStorage__queueServiceUri",
            "value": "https://st.queue.core.windows.net/",
        },
        {"name": "AzureWebJobsStorage__credential", "value": "managedidentity"},
        {"name": "AzureWebJobsStorage__clientId", "value": "11111111-1111-1111-1111-111111111111"},
        {"name": "AZURE_CLIENT_ID", "value": "11111111-1111-1111-1111-111111111111"},
        {"name": "ALLOWED_LOCATIONS", "value": None},
    ]
    done = subprocess.run(
        [sys.executable, str(bicep.INFRA / "hooks" / "app_settings.py")],
        input=json.dumps(listed),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "IsEncrypted": False,
        "Values": {
            "PROVISIONING_QUEUE_NAME": "cluster-provisioning",
            "AzureWebJobsStorage__queueServiceUri": "https://st.queue.core.windows.net/",
            "ALLOWED_LOCATIONS": "",
        },
    }
    assert "infra/hooks/app_settings.py" in (bicep.INFRA / "hooks" / "postdeploy.sh").read_text()
