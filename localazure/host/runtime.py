"""The in-process local host: index the app, start one listener per queue function, serve HTTP.

:class:`FunctionHost` is what ``python -m localazure.host`` runs; tests may also use it directly
(without a child process), for example to observe dispatch through ``on_invocation``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.storage.queue import QueueClient, QueueServiceClient

from localazure.host.app import FunctionIndex, index_functions, load_function_app
from localazure.host.config import (
    RECEIVE_INVISIBILITY_SECONDS,
    WORKER_EXITED,
    ConnectionString,
    HostConfigError,
    HostOptions,
    IdentityConnection,
    StorageConnection,
    load_host_json,
    load_settings,
    parse_host_json,
    poison_queue_name,
    resolve_connection,
)
from localazure.host.cors import CorsPolicy
from localazure.host.http import HttpHost
from localazure.host.listener import Invocation, QueueListener
from localazure.host.timers import TimerRunner
from localazure.host.worker import Worker

log = logging.getLogger("localazure.host")

THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def default_pool_size() -> int:
    """ThreadPoolExecutor's own default, which the worker keeps when the setting is unset."""
    return min(32, (os.cpu_count() or 1) + 4)


def function_pool_size(settings: Mapping[str, str]) -> int:
    """The Python worker's sync-function thread pool: PYTHON_THREADPOOL_THREAD_COUNT.

    As the worker's validator: any whole number from 1 up (no upper bound since Python 3.9);
    anything else is warned about and the default is used; unset, ThreadPoolExecutor's default.
    """
    raw = settings.get(THREADPOOL_SETTING)
    if raw is None or raw.strip() == "":
        return default_pool_size()
    try:
        value = int(raw)
    except ValueError:
        log.warning("%s must be an integer", THREADPOOL_SETTING)
        return default_pool_size()
    if value < 1:
        log.warning(
            "%s must be set to a value between 1 and sys.maxint. "
            "Reverting to default value for max_workers",
            THREADPOOL_SETTING,
        )
        return default_pool_size()
    return value


def credential_for(connection: IdentityConnection) -> TokenCredential:
    """The credential the host builds for an identity-based connection."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (connection.credential or "").lower() == "managedidentity":
        if connection.client_id:
            return ManagedIdentityCredential(client_id=connection.client_id)
        return ManagedIdentityCredential()
    if connection.client_id:
        return DefaultAzureCredential(managed_identity_client_id=connection.client_id)
    return DefaultAzureCredential()


def service_client(connection: StorageConnection) -> QueueServiceClient:
    """A queue service client with no message encode/decode policies (the listener decodes)."""
    if isinstance(connection, ConnectionString):
        try:
            return QueueServiceClient.from_connection_string(connection.value)
        except ValueError as exc:
            raise HostConfigError(f"invalid storage connection string: {exc}") from exc
    return QueueServiceClient(
        account_url=connection.queue_service_uri, credential=credential_for(connection)
    )


class FunctionHost:
    """Runs every queue- and HTTP-triggered function of the app in ``app_dir`` in this process."""

    def __init__(
        self,
        app_dir: Path | str,
        *,
        settings: Mapping[str, str] | None = None,
        receive_invisibility_seconds: int = RECEIVE_INVISIBILITY_SECONDS,
        http_port: int | None = 0,
        http_host: str = "127.0.0.1",
        processor_count: int = 1,
        on_invocation: Callable[[Invocation], None] | None = None,
        cors: CorsPolicy | None = None,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.cors = cors
        self.settings = load_settings(self.app_dir) if settings is None else dict(settings)
        self.options: HostOptions = parse_host_json(
            load_host_json(self.app_dir), self.settings, processor_count
        )
        self.receive_invisibility_seconds = receive_invisibility_seconds
        self.http_port_requested = http_port
        self.http_host = http_host
        self.on_invocation = on_invocation
        self.http_port: int | None = None
        self.listeners: list[QueueListener] = []
        self.timers: list[TimerRunner] = []
        self.index: FunctionIndex | None = None
        self.worker: Worker | None = None
        self._http: HttpHost | None = None
        self._clients: dict[StorageConnection, QueueServiceClient] = {}
        # Set when a listener meets a non-transient storage error: the host must restart.
        self.failed = threading.Event()
        self.failure: BaseException | None = None
        self.restarts = 0

    def start(self) -> FunctionHost:
        app = load_function_app(self.app_dir)
        self.index = index_functions(app, self.settings)
        self.worker = Worker(function_pool_size(self.settings), self.options.function_timeout)
        for function in self.index.queue_functions:
            connection = resolve_connection(function.connection, self.settings)
            client = self._clients.get(connection)
            if client is None:
                client = self._clients[connection] = service_client(connection)
            poison_name = poison_queue_name(function.queue_name)
            poison: QueueClient | None = (
                client.get_queue_client(poison_name) if poison_name else None
            )
            self.listeners.append(
                QueueListener(
                    function,
                    client.get_queue_client(function.queue_name),
                    poison,
                    self.options.queues,
                    self.worker,
                    receive_invisibility_seconds=self.receive_invisibility_seconds,
                    on_poison=self._notify,
                    on_invocation=self.on_invocation,
                    on_fatal=self._escalate,
                )
            )
        if self.index.http_functions and self.http_port_requested is not None:
            self._http = HttpHost(
                self.index.http_functions,
                self.options.http.route_prefix,
                self.worker,
                self.cors,
            )
            self.http_port = self._http.serve(self.http_host, self.http_port_requested)
        self.timers = [
            TimerRunner(function, self.worker) for function in self.index.timer_functions
        ]
        for listener in self.listeners:
            listener.start()
        for timer in self.timers:
            timer.start()
        self._log_start()
        return self

    def _log_start(self) -> None:
        assert self.index is not None
        log.info("Host options: %s", self.options.queues)
        for listener in self.listeners:
            log.info(
                "Functions.%s: queueTrigger on '%s'", listener.function.name, listener.queue_name
            )
        for timer in self.timers:
            log.info(
                "Functions.%s: timerTrigger '%s'", timer.function.name, timer.function.schedule
            )
        for function in self.index.http_functions:
            log.info(
                "Functions.%s: [%s] http://%s:%s/%s",
                function.name,
                ",".join(function.methods),
                self.http_host,
                self.http_port,
                "/".join(p for p in (self.options.http.route_prefix, function.route) if p),
            )

    def _escalate(self, exc: BaseException) -> None:
        """A listener rethrew, as QueueListener does: the host shuts down (then restarts)."""
        if self.failed.is_set():
            return
        self.failure = exc
        self.failed.set()
        log.error("An unhandled exception has occurred. Host is shutting down.", exc_info=exc)
        for listener in self.listeners:
            listener.request_stop()

    def restart(self, timeout: float = 30.0) -> FunctionHost:
        """Stop (running functions finish, up to ``timeout``) and start again on the same port."""
        self.stop(timeout)
        if self.http_port is not None:
            self.http_port_requested = self.http_port
        self.listeners = []
        self._clients = {}
        self.failure = None
        self.failed.clear()
        self.restarts += 1
        self.start()
        log.info("Host restarted (%d restart(s) so far)", self.restarts)
        return self

    def kill_worker(self) -> int:
        """The worker process dies: its in-flight invocations fail, a new worker starts.

        Returns how many invocations failed. The host (listeners, HTTP server) carries on.
        """
        if self.worker is None:
            return 0
        failed = self.worker.kill("the language worker process exited")
        log.error("%s; %d in-flight invocation(s) failed", WORKER_EXITED, failed)
        log.info("Worker process started and initialized.")
        return failed

    def _notify(self, queue_name: str) -> None:
        for listener in self.listeners:
            if listener.queue_name == queue_name:
                listener.notify()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling and serving, and wait up to ``timeout`` for running functions."""
        if self._http is not None:
            self._http.shutdown()
            self._http = None
        for listener in self.listeners:
            listener.request_stop()
        for timer in self.timers:
            timer.request_stop()
        for listener in self.listeners:
            listener.stop(timeout)
        for timer in self.timers:
            timer.stop(timeout)
        if self.worker is not None:
            self.worker.close()
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> FunctionHost:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
