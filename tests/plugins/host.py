"""Local Functions hosts for tests: a factory that starts ``LocalHost`` children and stops them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from localazure.host import LocalHost

StartHost = Callable[..., LocalHost]
_HOSTS = pytest.StashKey[list[LocalHost]]()


@pytest.fixture
def start_local_host(request: pytest.FixtureRequest) -> Iterator[StartHost]:
    """``start_local_host(app_dir, settings, **LocalHost kwargs)`` → a started LocalHost.

    Every host started through it is stopped after the test (SIGTERM, then SIGKILL). When the
    test fails, each host's output (its log stream) is added to the failure report.
    """
    hosts: list[LocalHost] = []
    request.node.stash[_HOSTS] = hosts

    def start(
        app_dir: Path | str, settings: Mapping[str, str] | None = None, **kwargs: Any
    ) -> LocalHost:
        host = LocalHost(app_dir, settings=settings, **kwargs)
        hosts.append(host)
        return host.start()

    yield start
    for host in hosts:
        host.request_stop()
    for host in hosts:
        host.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        hosts: list[LocalHost] = item.stash.get(_HOSTS, [])
        for number, host in enumerate(hosts, 1):
            report.sections.append((f"local host {number} output", host.output))
    return report
