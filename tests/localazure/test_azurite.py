"""Azurite as the unmodified storage SDK clients see it, in plain and OAuth mode."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core import MatchConditions
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
)
from azure.data.tables import TableClient, UpdateMode
from azure.storage.queue import (
    QueueClient,
    QueueServiceClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)

from localazure.azurite import ACCOUNT_NAME, Azurite, AzuriteError
from localazure.tokens import mint_token

REPO_ROOT = Path(__file__).resolve().parents[2]


class StaticToken:
    """A TokenCredential handing out one minted token, whatever scope is asked for."""

    def __init__(self, audience: str) -> None:
        self.audience = audience
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken(mint_token(self.audience), int(time.time()) + 3600)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_connection_string_names_every_endpoint(azurite: Azurite) -> None:
    """The connection string has the well-known account and explicit blob/queue/table endpoints."""
    parts = dict(p.split("=", 1) for p in azurite.connection_string.rstrip(";").split(";"))
    assert parts["AccountName"] == ACCOUNT_NAME
    assert parts["QueueEndpoint"] == azurite.queue_url
    assert parts["TableEndpoint"] == azurite.table_url
    assert parts["BlobEndpoint"] == azurite.blob_url
    ports = {azurite.port(s) for s in ("blob", "queue", "table")}
    assert len(ports) == 3
    assert azurite.queue_url.startswith("http://127.0.0.1:")


def test_queue_base64_policy_round_trip(azurite: Azurite, queue_name: str) -> None:
    """TextBase64EncodePolicy puts base64 on the wire, and the decode policy reads it back."""
    sender = QueueClient.from_connection_string(
        azurite.connection_string, queue_name, message_encode_policy=TextBase64EncodePolicy()
    )
    sender.create_queue()
    sender.send_message("héllo wörld")
    raw = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    [peeked] = raw.peek_messages()
    assert peeked.content == base64.b64encode("héllo wörld".encode()).decode()
    decoding = QueueClient.from_connection_string(
        azurite.connection_string, queue_name, message_decode_policy=TextBase64DecodePolicy()
    )
    [received] = decoding.receive_messages(visibility_timeout=5)
    assert received.content == "héllo wörld"
    assert received.dequeue_count == 1


def test_queue_visibility_timeout_in_whole_seconds(azurite: Azurite, queue_name: str) -> None:
    """A received message stays invisible for its visibility timeout, then comes back."""
    client = QueueClient.from_connection_string(azurite.connection_string, queue_name)
    client.create_queue()
    client.send_message("m")
    [first] = client.receive_messages(visibility_timeout=30)
    assert list(client.receive_messages()) == []
    # Shorten it to 1 s from now (a loaded machine cannot make the check above come too late).
    client.update_message(first.id, pop_receipt=first.pop_receipt, visibility_timeout=1)
    time.sleep(1.3)
    [again] = client.receive_messages(visibility_timeout=1)
    assert again.id == first.id
    assert again.dequeue_count == 2
    updated = client.update_message(again.id, pop_receipt=again.pop_receipt, visibility_timeout=0)
    assert updated.pop_receipt != again.pop_receipt
    [third] = client.receive_messages(visibility_timeout=1)
    assert third.dequeue_count == 3


def test_table_stale_etag_update_gets_412(azurite: Azurite, table_name: str) -> None:
    """Upsert works, and an update with a stale ETag is refused with 412."""
    table = TableClient.from_connection_string(azurite.connection_string, table_name)
    table.create_table()
    try:
        table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "state": "new"})
        stored = table.get_entity("p", "r")
        stale_etag = stored.metadata["etag"]
        table.update_entity(
            {"PartitionKey": "p", "RowKey": "r", "state": "first"},
            mode=UpdateMode.MERGE,
            etag=stale_etag,
            match_condition=MatchConditions.IfNotModified,
        )
        with pytest.raises(ResourceModifiedError) as info:
            table.update_entity(
                {"PartitionKey": "p", "RowKey": "r", "state": "second"},
                mode=UpdateMode.MERGE,
                etag=stale_etag,
                match_condition=MatchConditions.IfNotModified,
            )
        assert info.value.status_code == 412
        assert table.get_entity("p", "r")["state"] == "first"
    finally:
        table.delete_table()


def test_oauth_accepts_a_storage_audience_token(azurite_oauth: Azurite, queue_name: str) -> None:
    """In OAuth mode a bearer token for https://storage.azure.com is accepted over HTTPS."""
    credential = StaticToken("https://storage.azure.com")
    assert azurite_oauth.ca_bundle is not None
    client = QueueClient(
        azurite_oauth.queue_url,
        queue_name,
        credential=credential,
        connection_verify=str(azurite_oauth.ca_bundle),
    )
    client.create_queue()
    try:
        client.send_message("hello")
        [message] = client.receive_messages()
        assert message.content == "hello"
        assert credential.scopes == ["https://storage.azure.com/.default"]
    finally:
        client.delete_queue()


def test_oauth_refuses_another_audience(azurite_oauth: Azurite, queue_name: str) -> None:
    """A token minted for ARM is refused by Azurite's storage OAuth check."""
    assert azurite_oauth.ca_bundle is not None
    client = QueueClient(
        azurite_oauth.queue_url,
        queue_name,
        credential=StaticToken("https://management.azure.com"),
        connection_verify=str(azurite_oauth.ca_bundle),
    )
    with pytest.raises((ClientAuthenticationError, HttpResponseError)) as info:
        client.create_queue()
    assert info.value.status_code in (401, 403)


def test_oauth_mode_still_takes_the_shared_key(azurite_oauth: Azurite, queue_name: str) -> None:
    """The OAuth instance's https connection string works with the well-known key."""
    assert azurite_oauth.connection_string.startswith("DefaultEndpointsProtocol=https;")
    service = QueueServiceClient.from_connection_string(
        azurite_oauth.connection_string, connection_verify=str(azurite_oauth.ca_bundle)
    )
    service.create_queue(queue_name)
    try:
        assert queue_name in [q.name for q in service.list_queues(name_starts_with=queue_name)]
    finally:
        service.delete_queue(queue_name)


def test_missing_install_says_to_run_make_deps(tmp_path: Path) -> None:
    """Without node_modules the error tells the reader to run `make deps`."""
    with pytest.raises(AzuriteError, match="make deps"):
        Azurite(azurite_bin=tmp_path / "azurite").start()


def test_stop_leaves_no_process_and_no_storage() -> None:
    """stop() ends the node process and deletes the throwaway storage directory."""
    instance = Azurite().start()
    pid = instance.pid
    assert pid is not None
    workdir = instance._workdir
    assert workdir is not None and workdir.exists()
    instance.stop()
    assert not _pid_alive(pid)
    assert not workdir.exists()


def test_azurite_dies_with_a_killed_parent() -> None:
    """When the Python process that started Azurite is SIGKILLed, Azurite goes too."""
    script = (
        "import time\n"
        "from localazure.azurite import Azurite\n"
        "a = Azurite().start()\n"
        "print(a.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        node_pid = int(parent.stdout.readline())
        assert _pid_alive(node_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + 10
        while _pid_alive(node_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _pid_alive(node_pid)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()


def test_queue_cors_rules_are_set_through_service_properties(azurite: Azurite) -> None:
    """The rule set by allow_queue_origins admits the SPA's preflight and refuses another origin."""
    url = f"{azurite.queue_url}/some-queue/messages"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-ms-version",
    }
    azurite.allow_queue_origins(["http://localhost:5173"])
    try:
        allowed = requests.options(
            url, headers={"Origin": "http://localhost:5173", **preflight}, timeout=5
        )
        refused = requests.options(
            url, headers={"Origin": "http://127.0.0.1:5173", **preflight}, timeout=5
        )
    finally:
        azurite.allow_queue_origins([])
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "CorsPreflightFailure" in refused.text
