"""host.json, app settings, binding expressions and storage connections, read as the host does.

Pure functions over dicts and strings (no I/O except the two ``load_*`` helpers), so they can be
unit-tested without a storage account.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_POLLING_INTERVAL = 0.1  # QueuePollingIntervals.Minimum: 100 ms
DEFAULT_MAX_POLLING_INTERVAL = 60.0  # QueuePollingIntervals.DefaultMaximum: 1 min
MAX_BATCH_SIZE = 32  # the queue service returns at most 32 messages per request
RECEIVE_INVISIBILITY_SECONDS = 600  # the host receives with a hard-coded 10-minute invisibility
POISON_SUFFIX = "-poison"
READY_PREFIX = "localazure.host ready"  # start of the line `python -m localazure.host` prints
WORKER_EXITED = "Language Worker Process exited"  # logged once kill_worker() has failed them
MAX_QUEUE_NAME_LENGTH = 63

# Environment/app-setting overrides of host.json, as in Azure: AzureFunctionsJobHost__a__b=...
HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$")
_BINDING_EXPRESSION = re.compile(r"%([^%]+)%")
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$")


class HostConfigError(ValueError):
    """host.json, local.settings.json or a binding cannot be used as the Functions host would."""


def parse_timespan(value: Any, name: str) -> float:
    """Seconds in a .NET TimeSpan string (``[d.]hh:mm:ss[.fff]``); a bare number means milliseconds.

    The bare-number form is what host.json version 1 used for ``maxPollingInterval``.
    """
    if isinstance(value, bool):
        raise HostConfigError(f"{name}: expected a TimeSpan like '00:00:30', got {value!r}")
    if isinstance(value, int | float):
        return float(value) / 1000.0
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text) / 1000.0
        match = _TIMESPAN.match(text)
        if match:
            days, hours, minutes, seconds = match.groups()
            if int(minutes) > 59 or float(seconds) >= 60:
                raise HostConfigError(f"{name}: {value!r} is not a valid TimeSpan")
            return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    raise HostConfigError(f"{name}: expected a TimeSpan like '00:00:30', got {value!r}")


def _parse_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise HostConfigError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise HostConfigError(f"{name}: expected an integer, got {value!r}")


@dataclass(frozen=True, slots=True)
class QueuesOptions:
    """``extensions.queues`` of host.json with the storage extension v5 defaults."""

    max_polling_interval: float = DEFAULT_MAX_POLLING_INTERVAL
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @property
    def max_in_flight(self) -> int:
        """Messages processed in parallel per queue function: BatchSize + NewBatchThreshold."""
        return self.batch_size + self.new_batch_threshold


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """``extensions.http`` of host.json (only ``routePrefix`` matters here)."""

    route_prefix: str = "api"


# host.json's functionTimeout when absent: 30 minutes, the default of `func start`, Flex
# Consumption, Premium and Dedicated (docs: "Function app timeout duration").
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0


@dataclass(frozen=True, slots=True)
class HostOptions:
    queues: QueuesOptions
    http: HttpOptions
    # Seconds an invocation may run; None is "-1", unbounded.
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT


def parse_function_timeout(value: Any) -> float | None:
    """host.json ``functionTimeout``: a TimeSpan, or ``-1`` for no limit."""
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    text = str(value).strip()
    if text == "-1":
        return None
    if not _TIMESPAN.match(text):  # unlike maxPollingInterval, no bare-milliseconds form
        raise HostConfigError(
            f"functionTimeout: expected a TimeSpan like '00:05:00' or -1, got {value!r}"
        )
    seconds = parse_timespan(text, "functionTimeout")
    if seconds <= 0:
        raise HostConfigError("functionTimeout must be positive, or -1 for no limit")
    return seconds


def _case_insensitive(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in mapping.items()}


def host_json_overrides(settings: Mapping[str, str]) -> dict[str, Any]:
    """``AzureFunctionsJobHost__extensions__queues__batchSize=4`` → a nested dict."""
    result: dict[str, Any] = {}
    for key, value in settings.items():
        if not key.lower().startswith(HOST_OVERRIDE_PREFIX.lower()):
            continue
        path = [p.lower() for p in key[len(HOST_OVERRIDE_PREFIX) :].split("__") if p]
        if not path:
            continue
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return result


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _lower_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k).lower(): _lower_tree(v) for k, v in value.items()}
    return value


def parse_host_json(
    document: Mapping[str, Any],
    settings: Mapping[str, str] | None = None,
    processor_count: int = 1,
) -> HostOptions:
    """Queue and HTTP options from a host.json document (version 2.0), with app-setting overrides.

    ``processor_count`` enters the NewBatchThreshold default (``batchSize / 2 * processors``); the
    host uses 1 on the Consumption plan, which is the default here.
    """
    version = document.get("version")
    if version is not None and str(version) != "2.0":
        raise HostConfigError(f"host.json: version {version!r} is not supported (need '2.0')")
    tree = _lower_tree(document)
    if settings:
        tree = _merge(tree, host_json_overrides(settings))
    extensions = tree.get("extensions") or {}
    queues = _case_insensitive(extensions.get("queues") or {})
    http = _case_insensitive(extensions.get("http") or {})

    options: dict[str, Any] = {}
    if "maxpollinginterval" in queues:
        options["max_polling_interval"] = parse_timespan(
            queues["maxpollinginterval"], "extensions.queues.maxPollingInterval"
        )
        if options["max_polling_interval"] < MIN_POLLING_INTERVAL:
            raise HostConfigError(
                "extensions.queues.maxPollingInterval must not be less than 00:00:00.1"
            )
    if "visibilitytimeout" in queues:
        options["visibility_timeout"] = parse_timespan(
            queues["visibilitytimeout"], "extensions.queues.visibilityTimeout"
        )
    batch_size = _parse_int(queues.get("batchsize", 16), "extensions.queues.batchSize")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise HostConfigError("extensions.queues.batchSize must be between 1 and 32")
    options["batch_size"] = batch_size
    if "newbatchthreshold" in queues:
        threshold = _parse_int(queues["newbatchthreshold"], "extensions.queues.newBatchThreshold")
        if threshold < 0:
            raise HostConfigError("extensions.queues.newBatchThreshold must not be negative")
    else:
        threshold = (batch_size // 2) * processor_count
    options["new_batch_threshold"] = threshold
    if "maxdequeuecount" in queues:
        max_dequeue = _parse_int(queues["maxdequeuecount"], "extensions.queues.maxDequeueCount")
        if max_dequeue < 1:
            raise HostConfigError("extensions.queues.maxDequeueCount must not be less than 1")
        options["max_dequeue_count"] = max_dequeue
    if "messageencoding" in queues:
        encoding = str(queues["messageencoding"]).strip().lower()
        if encoding not in {"base64", "none"}:
            raise HostConfigError(
                f"extensions.queues.messageEncoding: {queues['messageencoding']!r} "
                "is not one of 'base64', 'none'"
            )
        options["message_encoding"] = encoding
    prefix = http.get("routeprefix", "api")
    return HostOptions(
        queues=QueuesOptions(**options),
        http=HttpOptions(route_prefix=str(prefix).strip("/")),
        function_timeout=parse_function_timeout(tree.get("functiontimeout")),
    )


def load_host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    if not path.exists():
        raise HostConfigError(f"{path} is missing; a function app needs a host.json")
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{path}: {exc}") from exc
    if not isinstance(document, dict):
        raise HostConfigError(f"{path}: expected a JSON object")
    return document


def _local_settings(app_dir: Path) -> dict[str, Any]:
    """The parsed ``local.settings.json`` of ``app_dir``; empty when there is none."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{path}: {exc}") from exc
    return document if isinstance(document, dict) else {}


def load_settings(app_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``local.settings.json`` ``Values`` (optional) overlaid by the process environment."""
    settings: dict[str, str] = {}
    values = _local_settings(app_dir).get("Values")
    if isinstance(values, dict):
        settings.update({str(k): "" if v is None else str(v) for k, v in values.items()})
    settings.update(os.environ if environ is None else environ)
    return settings


@dataclass(frozen=True, slots=True)
class HostStartSettings:
    """``local.settings.json``'s ``Host`` section: what ``func start`` reads besides Values."""

    cors: str = ""
    cors_credentials: bool = False


def parse_host_start_settings(document: Mapping[str, Any]) -> HostStartSettings:
    """``{"Host": {"CORS": "https://a,https://b", "CORSCredentials": true}}`` → settings."""
    section = document.get("Host")
    if not isinstance(section, Mapping):
        return HostStartSettings()
    host = _case_insensitive(section)
    cors = host.get("cors") or ""
    if not isinstance(cors, str):
        raise HostConfigError(f"local.settings.json: Host.CORS must be a string, got {cors!r}")
    credentials = host.get("corscredentials", False)
    if isinstance(credentials, str):
        credentials = credentials.strip().lower() == "true"
    return HostStartSettings(cors=cors, cors_credentials=bool(credentials))


def load_host_start_settings(app_dir: Path) -> HostStartSettings:
    return parse_host_start_settings(_local_settings(app_dir))


def resolve_binding_expression(value: str, settings: Mapping[str, str], what: str) -> str:
    """Replace every ``%NAME%`` in ``value`` with the app setting NAME; fail if one is missing."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise HostConfigError(
                f"{what}: '%{name}%' does not resolve to a value "
                f"(app setting '{name}' is not defined in local.settings.json or the environment)"
            )
        return settings[name]

    return _BINDING_EXPRESSION.sub(substitute, value)


def validate_queue_name(name: str, what: str) -> str:
    if not (3 <= len(name) <= MAX_QUEUE_NAME_LENGTH and _QUEUE_NAME.match(name)):
        raise HostConfigError(
            f"{what}: invalid queue name {name!r} (3-63 lower-case letters, digits and single "
            "hyphens, starting and ending with a letter or digit)"
        )
    return name


def poison_queue_name(queue_name: str) -> str | None:
    """``<queue>-poison``; None for a poison queue itself or when that name is too long."""
    if queue_name.endswith(POISON_SUFFIX):
        return None
    candidate = queue_name + POISON_SUFFIX
    if len(candidate) > MAX_QUEUE_NAME_LENGTH:
        return None
    return candidate


@dataclass(frozen=True, slots=True)
class ConnectionString:
    value: str


@dataclass(frozen=True, slots=True)
class IdentityConnection:
    """An identity-based connection: ``<conn>__queueServiceUri`` or ``<conn>__accountName``."""

    queue_service_uri: str
    credential: str | None = None  # "managedidentity" or None (DefaultAzureCredential)
    client_id: str | None = None


StorageConnection = ConnectionString | IdentityConnection


def resolve_connection(name: str | None, settings: Mapping[str, str]) -> StorageConnection:
    """The storage connection a binding's ``connection`` names, looked up as the host does.

    The host tries ``AzureWebJobs<name>`` and then ``<name>``; no name means AzureWebJobsStorage.
    A plain value is a connection string; otherwise the ``__``-separated section is read.
    """
    name = (name or "").strip().strip("%")
    if not name:
        candidates = ["AzureWebJobsStorage"]
    elif name.lower().startswith("azurewebjobs"):
        candidates = [name]
    else:
        candidates = [f"AzureWebJobs{name}", name]
    lowered = {k.lower(): v for k, v in settings.items()}
    for candidate in candidates:
        value = lowered.get(candidate.lower())
        if value:
            return ConnectionString(value)
        prefix = candidate.lower() + "__"
        section = {k[len(prefix) :]: v for k, v in lowered.items() if k.startswith(prefix) and v}
        if not section:
            continue
        uri = section.get("queueserviceuri")
        if not uri and section.get("accountname"):
            uri = f"https://{section['accountname']}.queue.core.windows.net"
        if not uri:
            raise HostConfigError(
                f"Storage connection '{candidate}': identity-based settings need "
                f"'{candidate}__queueServiceUri' or '{candidate}__accountName'"
            )
        return IdentityConnection(
            queue_service_uri=uri.rstrip("/"),
            credential=(section.get("credential") or None),
            client_id=(section.get("clientid") or None),
        )
    raise HostConfigError(
        f"Storage account connection string '{candidates[0]}' does not exist. Make sure that it "
        f"is a defined App Setting (or '{candidates[-1]}__queueServiceUri' for an identity-based "
        "connection)."
    )
