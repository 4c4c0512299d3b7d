"""The settings agree: every setting the code reads is in the Bicep app settings (with its default
in main.bicep and main.parameters.json) and in local.settings.sample.json; every setting set there
is read by the code or is a known platform setting; nothing Flex Consumption rejects appears."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from provisioning.settings import DEFAULT_VM_SIZES, Settings
from tests.infra import bicep

SETTINGS_PY = bicep.ROOT / "provisioning" / "settings.py"
STORAGE_PY = bicep.ROOT / "provisioning" / "storage.py"
LOCAL_SAMPLE = bicep.ROOT / "local.settings.sample.json"
PARAMETERS = bicep.INFRA / "main.parameters.json"

# Settings the platform reads, not the app's code, each with the reason it is set.
PLATFORM = {
    "AzureWebJobsStorage__blobServiceUri": "the host keeps its keys and leases in blob storage",
    "AZURE_CLIENT_ID": "DefaultAzureCredential (the ARM client) selects the user-assigned identity",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "where the host and the worker send telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "ingestion as the identity (local auth off)",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "the Python worker exports its logs",
    "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME": "only the app's loggers are exported",
    "AzureFunctionsJobHost__logging__logLevel__Azure.Core": "silences the host's SDK request logs",
}
# Only in local.settings.sample.json: Core Tools needs the worker runtime locally.
LOCAL_ONLY = {"FUNCTIONS_WORKER_RUNTIME": "Core Tools picks the Python worker by it"}
# Flex Consumption deprecates these settings (functionAppConfig holds runtime, version and the
# package; remote build is a publish option) and rejects these site properties (ARM error 51021).
FLEX_DEPRECATED_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}
FLEX_REJECTED_PROPERTIES = {"ftpsState", "linuxFxVersion", "functionAppScaleLimit"}


@dataclass(frozen=True)
class CodeSetting:
    name: str
    default: str  # as an app setting's text: "12", "false", "" ...


# ---------------------------------------------------------------- what the code reads (ast)


def _module_constants(tree: ast.Module) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
        ):
            found[node.targets[0].id] = node.value.value
    return found


def _evaluate(node: ast.expr, names: dict[str, object]) -> object:
    """A constant, a known name, or an f-string of those; anything else is an error."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            inner = value.value if isinstance(value, ast.FormattedValue) else value
            parts.append(str(_evaluate(inner, names)))
        return "".join(parts)
    raise AssertionError(f"cannot evaluate {ast.unparse(node)} statically")


def _azd_default(value: object, name: str) -> str:
    """A parameter's value as the app gets it by default: azd's ``${NAME=default}`` (taken from
    the environment variable of the setting's own name, so an operator can set it with
    ``azd env set NAME ...``) stands for its default."""
    text = _as_setting_text(value)
    found = re.fullmatch(r"\$\{(\w+)=(.*)\}", text)
    if found is None:
        return text
    assert found.group(1) == name, f"{text} should read the variable {name}"
    return found.group(2)


def _as_setting_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@cache
def settings_read_by_settings_py() -> tuple[CodeSetting, ...]:
    """Every reader.<kind>("NAME", ...) call in provisioning/settings.py, with its default."""
    tree = ast.parse(SETTINGS_PY.read_text(encoding="utf-8"))
    constants = _module_constants(tree)
    no_default = {
        "guid_set": "",
        "location_set": "",
        "guid": "",
        "items": "",
        "policy": "",
        "vm_size_set": ",".join(DEFAULT_VM_SIZES),
    }
    # Defaults are the dataclass fields' (``default.<field>`` in from_env): read them from there.
    defaults = Settings()
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "reader"
        ):
            continue
        name = _evaluate(node.args[0], constants)
        assert isinstance(name, str)
        kind = node.func.attr
        default: object
        if kind in no_default:
            default = no_default[kind]
        elif (
            isinstance(node.args[1], ast.Attribute) and ast.unparse(node.args[1].value) == "default"
        ):
            default = getattr(defaults, node.args[1].attr)
        else:
            default = _evaluate(node.args[1], constants)
        found.append(CodeSetting(name, _as_setting_text(default)))
    return tuple(found)


@cache
def settings_read_by_storage_py() -> frozenset[str]:
    """Every env.get(...)/env[...] name in StorageConnection.from_env (provisioning/storage.py)."""
    tree = ast.parse(STORAGE_PY.read_text(encoding="utf-8"))
    constants = _module_constants(tree)
    functions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "from_env"
    ]
    assert len(functions) == 1
    function = functions[0]
    names: dict[str, object] = dict(constants)
    arguments = function.args.args
    for argument, default in zip(
        arguments[len(arguments) - len(function.args.defaults) :],
        function.args.defaults,
        strict=True,
    ):
        names[argument.arg] = _evaluate(default, constants)
    found: set[str] = set()
    for statement in function.body:  # assignments in order, so later ones see earlier names
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and isinstance(statement.value, ast.Constant | ast.JoinedStr)
        ):
            names[statement.targets[0].id] = _evaluate(statement.value, names)
        for node in ast.walk(statement):
            key: ast.expr | None = None
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "env"
            ):
                key = node.args[0]
            elif (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id == "env"
            ):
                key = node.slice
            if key is not None:
                found.add(str(_evaluate(key, names)))
    return frozenset(found)


def code_settings() -> dict[str, CodeSetting]:
    return {setting.name: setting for setting in settings_read_by_settings_py()}


def camel(name: str) -> str:
    """PROVISIONING_QUEUE_NAME -> provisioningQueueName (the Bicep parameter's name)."""
    first, *rest = name.lower().split("_")
    return first + "".join(part.capitalize() for part in rest)


def bicep_settings() -> dict[str, bicep.AppSetting]:
    settings = bicep.app_settings()
    names = [setting.name for setting in settings]
    assert len(names) == len(set(names)), "an app setting is set twice in app.bicep"
    return {setting.name: setting for setting in settings}


def local_sample() -> dict[str, str]:
    values: dict[str, str] = json.loads(LOCAL_SAMPLE.read_text(encoding="utf-8"))["Values"]
    return values


# ---------------------------------------------------------------- the tests


def test_the_code_reads_settings() -> None:
    """The ast readers find the code's settings (a guard against parsing nothing)."""
    assert len(settings_read_by_settings_py()) >= 15
    assert "PROVISIONING_QUEUE_NAME" in code_settings()
    assert {"AzureWebJobsStorage", "AzureWebJobsStorage__queueServiceUri"} <= (
        settings_read_by_storage_py()
    )


def test_every_app_setting_is_in_bicep_wired_to_its_parameter() -> None:
    """Each setting settings.py reads is an app setting whose value is its own main.bicep param."""
    deployed = bicep_settings()
    problems = []
    for name in code_settings():
        if name not in deployed:
            problems.append(f"{name} is not in app.bicep's appSettings")
        elif not re.search(rf"\b{camel(name)}\b", deployed[name].value_source):
            problems.append(f"{name} = {deployed[name].value_source}, not from {camel(name)}")
    assert not problems, "\n".join(problems)


def test_every_app_setting_has_its_documented_default() -> None:
    """main.bicep's param default and main.parameters.json both hold the code's default."""
    defaults = bicep.param_defaults(bicep.MAIN_BICEP.read_bytes())
    parameters = json.loads(PARAMETERS.read_text(encoding="utf-8"))["parameters"]
    problems = []
    for setting in code_settings().values():
        param = camel(setting.name)
        in_bicep = defaults.get(param)
        if in_bicep is None or in_bicep.strip("'") != setting.default:
            problems.append(
                f"main.bicep: param {param} = {in_bicep}, code default {setting.default!r}"
            )
        if param not in parameters:
            problems.append(f"main.parameters.json has no {param}")
        elif _azd_default(parameters[param]["value"], setting.name) != setting.default:
            problems.append(
                f"main.parameters.json: {param} = {parameters[param]['value']!r}, "
                f"code default {setting.default!r}"
            )
    assert not problems, "\n".join(problems)


def test_bicep_uses_the_identity_based_storage_connection() -> None:
    """AzureWebJobsStorage is identity-based: service URIs, managedidentity, clientId; no key."""
    deployed = bicep_settings()
    read = settings_read_by_storage_py()
    prefix = "AzureWebJobsStorage__"
    # __accountName only stands in for the two service URIs, which are set.
    wanted = {name for name in read if name.startswith(prefix)} - {f"{prefix}accountName"}
    missing = sorted(wanted - deployed.keys())
    assert not missing, f"identity-based storage settings missing from app.bicep: {missing}"
    assert "AzureWebJobsStorage" not in deployed, "a connection string means shared keys"
    assert deployed[f"{prefix}credential"].value == "managedidentity"
    assert deployed[f"{prefix}clientId"].value_source == deployed["AZURE_CLIENT_ID"].value_source


def test_every_bicep_setting_is_read_or_a_known_platform_setting() -> None:
    """Nothing in app.bicep's appSettings is unread, unknown, or deprecated on Flex."""
    read = set(code_settings()) | settings_read_by_storage_py()
    deployed = set(bicep_settings())
    assert not deployed & FLEX_DEPRECATED_SETTINGS, "Flex Consumption deprecates these"
    unknown = sorted(deployed - read - set(PLATFORM))
    assert not unknown, f"set in app.bicep but read by nothing: {unknown}"


def test_bicep_sets_no_property_flex_rejects() -> None:
    """No ftpsState, linuxFxVersion or functionAppScaleLimit anywhere (ARM error 51021)."""
    for path in bicep.bicep_files():
        found = bicep.property_keys(path.read_bytes()) & FLEX_REJECTED_PROPERTIES
        assert not found, f"{path.name} sets {sorted(found)}"


def test_local_sample_has_every_setting_the_code_reads() -> None:
    """local.settings.sample.json sets every app setting and a storage connection."""
    sample = local_sample()
    missing = sorted(set(code_settings()) - sample.keys())
    assert not missing, f"missing from local.settings.sample.json: {missing}"
    assert sample.keys() & settings_read_by_storage_py(), "no AzureWebJobsStorage connection"


def test_every_local_sample_setting_is_read_or_known() -> None:
    """Nothing in local.settings.sample.json is unread or unknown."""
    read = set(code_settings()) | settings_read_by_storage_py()
    unknown = sorted(local_sample().keys() - read - set(PLATFORM) - set(LOCAL_ONLY))
    assert not unknown, f"set in local.settings.sample.json but read by nothing: {unknown}"


def test_settings_readers_cover_every_settings_field() -> None:
    """Every Settings field is filled from a setting, so the ast reader misses none."""
    tree = ast.parse(Path(SETTINGS_PY).read_text(encoding="utf-8"))
    from_env = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "from_env"
    )
    keywords = [
        keyword
        for node in ast.walk(from_env)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cls"
        for keyword in node.keywords
    ]
    assert len(keywords) == len(settings_read_by_settings_py())
