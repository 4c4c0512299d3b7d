"""Load a v2-model function app and index its functions once, as the Python worker does."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import re
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
from croniter import croniter

from localazure.host.config import (
    HostConfigError,
    resolve_binding_expression,
    validate_queue_name,
)

ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "TRACE")


@dataclass(frozen=True, slots=True)
class QueueFunction:
    name: str
    queue_name: str
    connection: str | None
    parameter: str
    user_function: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class HttpFunction:
    name: str
    route: str
    methods: tuple[str, ...]
    parameter: str
    user_function: Callable[..., Any]
    pattern: re.Pattern[str] = field(compare=False)


@dataclass(frozen=True, slots=True)
class TimerFunction:
    name: str
    schedule: str  # NCRONTAB, six fields (seconds first)
    run_on_startup: bool
    parameter: str
    user_function: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class FunctionIndex:
    queue_functions: list[QueueFunction]
    http_functions: list[HttpFunction]
    timer_functions: list[TimerFunction] = field(default_factory=list)


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


_ROUTE_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\??)(?::[^}]*)?\}")


def route_pattern(route: str) -> re.Pattern[str]:
    """A regex for an ASP.NET-style route template: ``{id}``, ``{id:int}``, ``{id?}``, ``{*rest}``.

    Constraints (``:int`` and the like) are accepted and not enforced; matching is
    case-insensitive, as in the host.
    """
    template = route.strip("/")
    parts: list[str] = []
    position = 0
    for match in _ROUTE_PARAM.finditer(template):
        literal = template[position : match.start()]
        catch_all, name, optional = match.groups()
        if optional and literal.endswith("/"):
            parts.append(re.escape(literal[:-1]))
            parts.append(f"(?:/(?P<{name}>[^/]+))?")
        else:
            parts.append(re.escape(literal))
            body = ".*" if catch_all else "[^/]+"
            parts.append(f"(?P<{name}>{body})" + ("?" if optional else ""))
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("^" + "".join(parts) + "/?$", re.IGNORECASE)


def load_function_app(app_dir: Path, module_name: str = "function_app") -> func.FunctionApp:
    """Import ``<app_dir>/function_app.py`` (app_dir on sys.path) and return its FunctionApp."""
    path = app_dir / f"{module_name}.py"
    if not path.exists():
        raise HostConfigError(f"{path} is missing; a v2-model app defines `app` in {path.name}")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HostConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionApp)]
    app = getattr(module, "app", None)
    if not isinstance(app, func.FunctionApp):
        if len(apps) != 1:
            raise HostConfigError(f"{path} defines no FunctionApp named `app`")
        app = apps[0]
    return app


def index_functions(app: func.FunctionApp, settings: Mapping[str, str]) -> FunctionIndex:
    """Index the app with ``get_functions()`` (called once; a second call raises in the library)."""
    queue_functions: list[QueueFunction] = []
    http_functions: list[HttpFunction] = []
    timer_functions: list[TimerFunction] = []
    for function in app.get_functions():
        name = str(function.get_function_name())
        trigger = function.get_trigger()
        if trigger is None:
            raise HostConfigError(f"function '{name}' has no trigger")
        binding = trigger.get_dict_repr()
        binding_type = str(binding.get("type"))
        parameter = str(binding["name"])
        user_function = function.get_user_function()
        others = [
            b.get_dict_repr()
            for b in function.get_bindings()
            if b is not trigger and b.get_dict_repr().get("name") != "$return"
        ]
        if others:
            kinds = ", ".join(sorted({str(b.get("type")) for b in others}))
            raise HostConfigError(
                f"function '{name}': bindings other than the trigger ({kinds}) are not "
                "supported by the local host"
            )
        _check_parameters(name, user_function, parameter)
        if binding_type == "queueTrigger":
            queue_name = resolve_binding_expression(
                str(binding.get("queueName", "")), settings, f"function '{name}' queueName"
            ).lower()
            validate_queue_name(queue_name, f"function '{name}'")
            connection = binding.get("connection")
            queue_functions.append(
                QueueFunction(
                    name=name,
                    queue_name=queue_name,
                    connection=str(connection) if connection else None,
                    parameter=parameter,
                    user_function=user_function,
                )
            )
        elif binding_type == "httpTrigger":
            route = resolve_binding_expression(
                str(binding.get("route") or name), settings, f"function '{name}' route"
            )
            methods = binding.get("methods") or ALL_METHODS
            http_functions.append(
                HttpFunction(
                    name=name,
                    route=route.strip("/"),
                    methods=tuple(_enum_value(m).upper() for m in methods),
                    parameter=parameter,
                    user_function=user_function,
                    pattern=route_pattern(route),
                )
            )
        elif binding_type == "timerTrigger":
            schedule = resolve_binding_expression(
                str(binding.get("schedule", "")), settings, f"function '{name}' schedule"
            )
            validate_schedule(schedule, f"function '{name}'")
            timer_functions.append(
                TimerFunction(
                    name=name,
                    schedule=schedule,
                    run_on_startup=bool(binding.get("runOnStartup")),
                    parameter=parameter,
                    user_function=user_function,
                )
            )
        else:
            raise HostConfigError(
                f"function '{name}': trigger type '{binding_type}' is not supported by the "
                "local host (queueTrigger, httpTrigger and timerTrigger are)"
            )
    return FunctionIndex(
        queue_functions=queue_functions,
        http_functions=http_functions,
        timer_functions=timer_functions,
    )


def validate_schedule(schedule: str, what: str) -> str:
    """An NCRONTAB schedule as the host takes it: six fields, seconds first."""
    if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
        raise HostConfigError(
            f"{what}: schedule {schedule!r} is not an NCRONTAB expression of six fields "
            "({second} {minute} {hour} {day} {month} {day-of-week})"
        )
    return schedule


def _check_parameters(name: str, user_function: Callable[..., Any], parameter: str) -> None:
    params = inspect.signature(user_function).parameters
    unknown = [p for p in params if p != parameter]
    if parameter not in params or unknown:
        raise HostConfigError(
            f"function '{name}': the local host passes only the trigger parameter "
            f"'{parameter}'; unsupported parameters: {unknown or [parameter]}"
        )


class CoroutineRunner:
    """Runs ``async def`` functions on one event loop thread, as the worker does on its loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="localhost-asyncio", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def call(self, user_function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """Call the function; a coroutine result is awaited on the shared loop."""
        result = user_function(**kwargs)
        if inspect.isawaitable(result):
            future: Future[Any] = asyncio.run_coroutine_threadsafe(
                _await(result), self._ensure_loop()
            )
            with self._lock:
                self._pending.add(future)
            try:
                return future.result()
            finally:
                with self._lock:
                    self._pending.discard(future)
        return result

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            pending, self._pending = self._pending, set()
        for future in pending:  # a closed loop never finishes them: free their waiting threads
            future.cancel()
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


async def _await(awaitable: Any) -> Any:
    return await awaitable
