"""Azurite for tests: one plain (HTTP, shared key) and one OAuth (HTTPS) instance per session.

Azurite has one account, so tests are kept apart by names, not by accounts: every test gets
unique queue and table names (``queue_name``, ``table_name``) and its queues are deleted after it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from azure.core.exceptions import AzureError
from azure.storage.queue import QueueServiceClient

from localazure.azurite import Azurite
from localazure.certs import TestCertificates


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """The session's Azurite over HTTP with the well-known devstoreaccount1 key."""
    with Azurite() as instance:
        yield instance


@pytest.fixture(scope="session")
def azurite_oauth(test_certs: TestCertificates) -> Iterator[Azurite]:
    """The session's Azurite in OAuth mode: HTTPS with the test CA and ``--oauth basic``."""
    with Azurite(oauth=True, certs=test_certs) as instance:
        yield instance


@pytest.fixture
def storage_connection_string(azurite: Azurite) -> str:
    """The AzureWebJobsStorage connection string of the session's plain Azurite."""
    return azurite.connection_string


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


@pytest.fixture
def queue_name(azurite: Azurite) -> Iterator[str]:
    """A queue name no other test uses; the queue and its ``-poison`` queue go afterwards."""
    name = _unique("q-")
    yield name
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    for queue in service.list_queues(name_starts_with=name):
        with contextlib.suppress(AzureError):
            service.delete_queue(queue.name)


@pytest.fixture
def table_name() -> str:
    """A table name no other test uses (letters and digits only, as tables require)."""
    return _unique("t")


@pytest.fixture
def storage_settings(storage_connection_string: str, queue_name: str) -> dict[str, str]:
    """App settings that point a function app at Azurite, with this test's queue name."""
    return {
        "AzureWebJobsStorage": storage_connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "QUEUE_NAME": queue_name,
    }
