"""The local queue host: storage extension v5 semantics, through Azurite and the real SDK clients.

Pure policies (back-off, host.json, settings, in-flight bookkeeping, decoding, routes) are tested
without I/O; the rest runs the trivial app under tests/localazure/apps/trivial in ``LocalHost``
child processes, or one listener in-process where the test must hold functions mid-flight.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from localazure.azurite import Azurite
from localazure.host import LocalHost, LocalHostError
from localazure.host.app import QueueFunction, index_functions, route_pattern
from localazure.host.config import (
    ConnectionString,
    HostConfigError,
    IdentityConnection,
    QueuesOptions,
    parse_host_json,
    parse_timespan,
    poison_queue_name,
    resolve_binding_expression,
    resolve_connection,
)
from localazure.host.listener import QueueListener
from localazure.host.policy import (
    InFlight,
    RandomizedExponentialBackoff,
    UndecodableMessage,
    decode_body,
    encode_body,
)
from localazure.host.runtime import function_pool_size
from localazure.host.worker import Worker
from tests.crash.tap import Answer, SeenRequest, Tap

TRIVIAL_APP = Path(__file__).parent / "apps" / "trivial"
REPO_ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = "AzureFunctionsJobHost__extensions__queues__"


# -- pure policies ---------------------------------------------------------------------------


def test_backoff_doubles_from_100ms_up_to_the_maximum() -> None:
    """Empty polls wait 100 ms, then min + 2^(n-1)·min, capped at maxPollingInterval."""
    backoff = RandomizedExponentialBackoff(maximum=2.0, uniform=lambda a, b: 1.0)
    delays = [round(backoff.next_delay(False), 3) for _ in range(8)]
    assert delays == [0.1, 0.2, 0.3, 0.5, 0.9, 1.7, 2.0, 2.0]


def test_backoff_resets_to_the_minimum_when_messages_were_found() -> None:
    """A poll that found messages brings the delay back to 100 ms, and growth restarts."""
    backoff = RandomizedExponentialBackoff(maximum=60.0, uniform=lambda a, b: 1.0)
    for _ in range(10):
        backoff.next_delay(False)
    assert backoff.next_delay(True) == pytest.approx(0.1)
    assert backoff.next_delay(False) == pytest.approx(0.2)


def test_backoff_jitter_stays_within_twenty_percent() -> None:
    """The random factor is drawn from [0.8, 1.2] and applied to the doubling increment."""
    bounds: list[tuple[float, float]] = []

    def lowest(a: float, b: float) -> float:
        bounds.append((a, b))
        return a

    backoff = RandomizedExponentialBackoff(maximum=1000.0, uniform=lowest)
    backoff.next_delay(False)
    assert backoff.next_delay(False) == pytest.approx(0.1 + 0.8 * 0.1)
    assert bounds == [(0.8, 1.2)]
    real = RandomizedExponentialBackoff(maximum=1000.0)
    real.next_delay(False)
    for n in range(1, 12):
        delay = real.next_delay(False)
        previous_min = 0.1 + 0.8 * (2 ** (n - 1)) * 0.1
        previous_max = 0.1 + 1.2 * (2 ** (n - 1)) * 0.1
        assert previous_min <= delay <= previous_max


def test_backoff_rejects_a_maximum_below_the_minimum() -> None:
    """maxPollingInterval below 100 ms is a configuration error, as in the host."""
    with pytest.raises(ValueError):
        RandomizedExponentialBackoff(maximum=0.05)
    with pytest.raises(HostConfigError, match="maxPollingInterval"):
        parse_host_json({"version": "2.0", "extensions": {"queues": {"maxPollingInterval": 50}}})


def test_host_json_defaults_match_the_storage_extension() -> None:
    """An empty host.json gives 1 min polling, 0 s visibility, 16/8 batch, 5 dequeues, base64."""
    options = parse_host_json({"version": "2.0"}).queues
    assert options == QueuesOptions(
        max_polling_interval=60.0,
        visibility_timeout=0.0,
        batch_size=16,
        new_batch_threshold=8,
        max_dequeue_count=5,
        message_encoding="base64",
    )
    assert options.max_in_flight == 24
    assert parse_host_json({"version": "2.0"}).http.route_prefix == "api"


def test_host_json_of_the_app_is_read() -> None:
    """The project's host.json: 2 s polling, 5 s visibility, 16 + 8, 5 dequeues, no encoding."""
    document = json.loads((REPO_ROOT / "host.json").read_text())
    options = parse_host_json(document).queues
    assert options.max_polling_interval == 2.0
    assert options.visibility_timeout == 5.0
    assert (options.batch_size, options.new_batch_threshold) == (16, 8)
    assert options.max_dequeue_count == 5
    assert options.message_encoding == "none"


def test_new_batch_threshold_defaults_to_half_the_batch_size() -> None:
    """Unset, newBatchThreshold is batchSize / 2 (integer division) times the processor count."""
    queues = {"batchSize": 5}
    doc = {"version": "2.0", "extensions": {"queues": queues}}
    assert parse_host_json(doc).queues.new_batch_threshold == 2
    assert parse_host_json(doc, processor_count=4).queues.new_batch_threshold == 8


def test_app_settings_override_host_json() -> None:
    """AzureFunctionsJobHost__extensions__queues__* settings win over host.json, as in Azure."""
    doc = {"version": "2.0", "extensions": {"queues": {"batchSize": 16, "maxDequeueCount": 5}}}
    settings = {f"{OVERRIDE}batchSize": "4", f"{OVERRIDE}maxDequeueCount": "2"}
    options = parse_host_json(doc, settings).queues
    assert (options.batch_size, options.max_dequeue_count) == (4, 2)
    assert options.new_batch_threshold == 2


def test_host_json_rejects_values_the_host_rejects() -> None:
    """batchSize over 32, maxDequeueCount 0 and an unknown encoding are refused."""
    for queues in ({"batchSize": 33}, {"maxDequeueCount": 0}, {"messageEncoding": "utf8"}):
        with pytest.raises(HostConfigError):
            parse_host_json({"version": "2.0", "extensions": {"queues": queues}})


def test_timespans_parse_like_dotnet() -> None:
    """TimeSpan strings with days and fractions, and v1-style milliseconds, become seconds."""
    assert parse_timespan("00:00:02", "x") == 2.0
    assert parse_timespan("1.02:03:04.5", "x") == 86400 + 7384.5
    assert parse_timespan(2000, "x") == 2.0
    with pytest.raises(HostConfigError):
        parse_timespan("00:61:00", "x")


def test_binding_expressions_resolve_from_settings() -> None:
    """%NAME% is replaced by the app setting; a missing setting is a clear error naming it."""
    assert resolve_binding_expression("%Q%-poison", {"Q": "jobs"}, "f") == "jobs-poison"
    with pytest.raises(HostConfigError, match="'MISSING'"):
        resolve_binding_expression("%MISSING%", {}, "function 'f' queueName")


def test_poison_queue_name_rules() -> None:
    """<queue>-poison, except for queues already ending in -poison or too long for the suffix."""
    assert poison_queue_name("jobs") == "jobs-poison"
    assert poison_queue_name("jobs-poison") is None
    assert poison_queue_name("a" * 57) is None
    assert poison_queue_name("a" * 56) == "a" * 56 + "-poison"


def test_connections_resolve_like_the_host() -> None:
    """A connection string, or the identity-based __queueServiceUri / __accountName section."""
    assert resolve_connection("AzureWebJobsStorage", {"AzureWebJobsStorage": "cs"}) == (
        ConnectionString("cs")
    )
    assert resolve_connection(None, {"AzureWebJobsStorage": "cs"}) == ConnectionString("cs")
    assert resolve_connection("Other", {"AzureWebJobsOther": "a", "Other": "b"}) == (
        ConnectionString("a")
    )
    identity = resolve_connection(
        "AzureWebJobsStorage",
        {
            "AzureWebJobsStorage__queueServiceUri": "https://127.0.0.1:1/devstoreaccount1/",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "cid",
        },
    )
    assert identity == IdentityConnection(
        "https://127.0.0.1:1/devstoreaccount1", "managedidentity", "cid"
    )
    by_account = resolve_connection(
        "AzureWebJobsStorage", {"AzureWebJobsStorage__accountName": "acct"}
    )
    assert by_account == IdentityConnection("https://acct.queue.core.windows.net")
    with pytest.raises(HostConfigError, match="AzureWebJobsStorage"):
        resolve_connection("AzureWebJobsStorage", {})


def test_in_flight_allows_batch_plus_threshold() -> None:
    """A new batch is fetched only at or below newBatchThreshold; batch + threshold is the cap."""
    in_flight = InFlight(batch_size=4, new_batch_threshold=2)
    assert in_flight.can_fetch()
    in_flight.started(4)
    assert not in_flight.can_fetch()
    in_flight.finished()
    assert not in_flight.can_fetch()
    in_flight.finished()
    assert in_flight.can_fetch()
    in_flight.started(4)
    assert in_flight.count == 6 == in_flight.limit == in_flight.peak
    with pytest.raises(RuntimeError):
        in_flight.started(1)
    assert not in_flight.wait_until_can_fetch(timeout=0.01)


def test_decoding_follows_message_encoding() -> None:
    """base64 bodies are decoded strictly; 'none' passes the text through."""
    assert decode_body(base64.b64encode(b"\x00\xff").decode(), "base64") == b"\x00\xff"
    assert decode_body("plain text", "none") == b"plain text"
    for bad in ("not base64!", "abc", "héllo"):
        with pytest.raises(UndecodableMessage):
            decode_body(bad, "base64")
    assert encode_body(b"hi", "base64") == "aGk="
    assert encode_body(b"hi", "none") == "hi"


def test_route_templates_match_with_parameters() -> None:
    """{name}, {name:int}, {name?} and {*rest} templates match and capture like ASP.NET routes."""
    assert route_pattern("items/{item_id}").match("Items/42").groupdict() == {"item_id": "42"}  # type: ignore[union-attr]
    assert route_pattern("items/{item_id}").match("items/42/x") is None
    assert route_pattern("n/{id:int}").match("n/7") is not None
    optional = route_pattern("a/{b?}")
    assert optional.match("a") is not None
    assert optional.match("a/x").groupdict() == {"b": "x"}  # type: ignore[union-attr]
    assert route_pattern("files/{*path}").match("files/a/b").groupdict() == {"path": "a/b"}  # type: ignore[union-attr]


def test_indexing_calls_get_functions_once() -> None:
    """The app is indexed through get_functions(), which the library refuses to run twice."""
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="%Q%", connection="AzureWebJobsStorage")
    def on_message(msg: func.QueueMessage) -> None:
        pass

    index = index_functions(app, {"Q": "Jobs"})
    assert [(f.name, f.queue_name, f.parameter) for f in index.queue_functions] == [
        ("on_message", "jobs", "msg")
    ]
    with pytest.raises(ValueError, match="unique"):
        app.get_functions()


def test_thread_pool_size_honours_the_worker_setting(caplog: pytest.LogCaptureFixture) -> None:
    """PYTHON_THREADPOOL_THREAD_COUNT: any whole number from 1 (above 32 too); a bad value is
    warned about, in the worker's words, and the default is used instead of refusing to start."""
    default = function_pool_size({})
    assert 1 <= default <= 32
    assert function_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}) == 3
    assert function_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "64"}) == 64
    with caplog.at_level(logging.WARNING, logger="localazure.host"):
        assert function_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "0"}) == default
        assert function_pool_size({"PYTHON_THREADPOOL_THREAD_COUNT": "many"}) == default
    assert [r.getMessage() for r in caplog.records] == [
        "PYTHON_THREADPOOL_THREAD_COUNT must be set to a value between 1 and sys.maxint. "
        "Reverting to default value for max_workers",
        "PYTHON_THREADPOOL_THREAD_COUNT must be an integer",
    ]


def test_function_timeout_from_host_json() -> None:
    """functionTimeout: 30 minutes when absent, a TimeSpan, or -1 for none; nonsense refused."""
    assert parse_host_json({"version": "2.0"}).function_timeout == 1800
    timed = parse_host_json({"version": "2.0", "functionTimeout": "00:00:05"})
    assert timed.function_timeout == 5
    assert parse_host_json({"version": "2.0", "functionTimeout": "-1"}).function_timeout is None
    override = {"AzureFunctionsJobHost__functionTimeout": "00:01:00"}
    assert parse_host_json({"version": "2.0"}, override).function_timeout == 60
    for bad in ("5", "00:00:00", "soon"):
        with pytest.raises(HostConfigError, match="functionTimeout"):
            parse_host_json({"version": "2.0", "functionTimeout": bad})


# -- through Azurite ---------------------------------------------------------------------------


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Records:
    """What the trivial app's functions wrote to RECORD_DIR."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def all(self, function: str | None = None) -> list[dict[str, Any]]:
        found = []
        for path in self.directory.glob("*.json"):
            record = json.loads(path.read_text())
            if function is None or record["function"] == function:
                found.append(record)
        return sorted(found, key=lambda r: r["start"])

    def finished(self, function: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.all(function) if r["end"] is not None]


@pytest.fixture
def records(tmp_path: Path) -> Records:
    directory = tmp_path / "records"
    directory.mkdir()
    return Records(directory)


@pytest.fixture
def app_settings(
    storage_connection_string: str, queue_name: str, records: Records
) -> dict[str, str]:
    """Settings for the trivial app: this test's queue, an idle watched queue, the record dir."""
    return {
        "AzureWebJobsStorage": storage_connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "MAIN_QUEUE": queue_name,
        "WATCH_QUEUE": f"{queue_name}-watch",
        "RECORD_DIR": str(records.directory),
    }


@pytest.fixture
def sender(azurite: Azurite, queue_name: str) -> QueueClient:
    """A client for this test's queue that base64-encodes, as the app's producers do."""
    client = QueueClient.from_connection_string(
        azurite.connection_string, queue_name, message_encode_policy=TextBase64EncodePolicy()
    )
    client.create_queue()
    return client


@pytest.fixture
def raw_queue(azurite: Azurite) -> Callable[[str], QueueClient]:
    """A client without encoding for any queue, to see and send raw message text."""
    return lambda name: QueueClient.from_connection_string(azurite.connection_string, name)


def message_count(client: QueueClient) -> int:
    """Messages in the queue including invisible ones (Azurite's approximate count is exact)."""
    return int(client.get_queue_properties().approximate_message_count or 0)


def test_success_deletes_the_message(start_local_host, app_settings, sender, records) -> None:
    """A function that returns gets its message deleted, invisible ones included."""
    start_local_host(TRIVIAL_APP, app_settings)
    sender.send_message(json.dumps({"tag": "ok"}))
    wait_for(lambda: records.finished("main_queue"), what="the invocation")
    wait_for(lambda: message_count(sender) == 0, what="the delete")
    assert [r["tag"] for r in records.all()] == ["ok"]


def test_base64_body_is_decoded(start_local_host, app_settings, sender, raw_queue, records) -> None:
    """The function gets the decoded bytes of a base64 message; the wire text is base64."""
    start_local_host(TRIVIAL_APP, app_settings)
    sender.send_message("héllo wörld")
    [record] = wait_for(lambda: records.finished("main_queue"), what="the invocation")
    assert record["body"] == "héllo wörld"


def test_encoding_none_passes_text_through(
    start_local_host, app_settings, raw_queue, records, queue_name
) -> None:
    """With messageEncoding none the raw text reaches the function unchanged."""
    settings = {**app_settings, f"{OVERRIDE}messageEncoding": "none"}
    raw = raw_queue(queue_name)
    raw.create_queue()
    start_local_host(TRIVIAL_APP, settings)
    raw.send_message("aGk=")
    [record] = wait_for(lambda: records.finished("main_queue"), what="the invocation")
    assert record["body"] == "aGk="


def test_trigger_metadata(start_local_host, app_settings, sender, records) -> None:
    """id, dequeue_count, pop_receipt and the three times come from the received message."""
    start_local_host(TRIVIAL_APP, app_settings, receive_invisibility_seconds=30)
    sent = sender.send_message(json.dumps({"tag": "meta"}))
    [record] = wait_for(lambda: records.finished("main_queue"), what="the invocation")
    assert record["id"] == sent.id
    assert record["dequeue_count"] == 1
    assert record["pop_receipt"]
    assert datetime.fromisoformat(record["insertion_time"]) == sent.inserted_on
    assert datetime.fromisoformat(record["expiration_time"]) == sent.expires_on
    next_visible = datetime.fromisoformat(record["time_next_visible"])
    started = datetime.fromtimestamp(record["start"], UTC)
    assert timedelta(seconds=25) < next_visible - started < timedelta(seconds=32)


def test_failure_resets_visibility_then_retries(
    start_local_host, app_settings, sender, records
) -> None:
    """A raise resets visibility to visibilityTimeout (2 s here), not the receive invisibility."""
    settings = {**app_settings, f"{OVERRIDE}visibilityTimeout": "00:00:02"}
    start_local_host(TRIVIAL_APP, settings, receive_invisibility_seconds=30)
    sender.send_message(json.dumps({"tag": "retry", "actions": ["fail", "ok"]}))
    runs = wait_for(
        lambda: len(records.finished("main_queue")) == 2 and records.finished(), what="retry"
    )
    assert [(r["dequeue_count"], r["action"]) for r in runs] == [(1, "fail"), (2, "ok")]
    gap = runs[1]["start"] - runs[0]["end"]
    assert 1.5 < gap < 10
    wait_for(lambda: message_count(sender) == 0, what="the delete")


def test_poison_after_max_dequeue_count(
    start_local_host, app_settings, sender, raw_queue, records, queue_name
) -> None:
    """After the maxDequeueCount-th (3rd) failure the message text is copied to <q>-poison."""
    host = start_local_host(TRIVIAL_APP, app_settings)
    sent_text = json.dumps({"tag": "poison", "actions": ["fail"]})
    sender.send_message(sent_text)
    poison = raw_queue(f"{queue_name}-poison")
    [moved] = wait_for(lambda: _peek(poison), what="the poison message")
    assert moved.content == base64.b64encode(sent_text.encode()).decode()
    assert [r["dequeue_count"] for r in records.all("main_queue")] == [1, 2, 3]
    wait_for(lambda: message_count(sender) == 0, what="the delete from the main queue")
    assert (
        f"Message has reached MaxDequeueCount of 3. Moving message to queue '{queue_name}-poison'."
        in host.output
    )


def _peek(client: QueueClient) -> list[Any]:
    try:
        return list(client.peek_messages(max_messages=32))
    except ResourceNotFoundError:  # the host creates the poison queue on its first move
        return []


def test_undecodable_goes_to_poison_without_invoking(
    start_local_host, app_settings, sender, raw_queue, records, queue_name
) -> None:
    """A message that is not base64 is copied verbatim to <q>-poison and the function never runs."""
    host = start_local_host(TRIVIAL_APP, app_settings)
    raw_queue(queue_name).send_message("not base64 at all!")
    [moved] = wait_for(lambda: _peek(raw_queue(f"{queue_name}-poison")), what="the poison message")
    assert moved.content == "not base64 at all!"
    wait_for(lambda: message_count(sender) == 0, what="the delete from the main queue")
    assert records.all() == []
    assert "Message decoding has failed! Check MessageEncoding settings." in host.output


def test_dequeue_count_over_the_limit_goes_to_poison_without_invoking(
    start_local_host, app_settings, sender, raw_queue, records, queue_name
) -> None:
    """A message already dequeued maxDequeueCount times is moved to poison before any call."""
    settings = {**app_settings, f"{OVERRIDE}maxDequeueCount": "1"}
    sender.send_message(json.dumps({"tag": "worn"}))
    [taken] = raw_queue(queue_name).receive_messages(visibility_timeout=1)
    assert taken.dequeue_count == 1
    start_local_host(TRIVIAL_APP, settings)
    [moved] = wait_for(lambda: _peek(raw_queue(f"{queue_name}-poison")), what="the poison message")
    assert moved.content == taken.content
    wait_for(lambda: message_count(sender) == 0, what="the delete from the main queue")
    assert records.all() == []


def test_no_poison_queue_for_a_poison_queue(
    start_local_host, app_settings, sender, azurite, raw_queue, records, queue_name
) -> None:
    """A failing trigger on <q>-poison is neither released nor moved to <q>-poison-poison."""
    settings = {**app_settings, "WATCH_QUEUE": f"{queue_name}-poison"}
    start_local_host(TRIVIAL_APP, settings, receive_invisibility_seconds=1)
    sender.send_message(json.dumps({"tag": "pp", "actions": ["fail"], "poison_actions": ["fail"]}))
    runs = wait_for(
        lambda: len(records.finished("watch_queue")) >= 3 and records.finished("watch_queue"),
        what="three poison-queue runs",
    )
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    # Not released: each retry waited for the receive invisibility (1 s), not visibilityTimeout 0.
    assert all(b["start"] - a["end"] > 0.7 for a, b in itertools.pairwise(runs))
    time.sleep(1.5)
    assert len(records.all("watch_queue")) == 3  # the 4th dequeue exceeds maxDequeueCount 3
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    names = [q.name for q in service.list_queues(name_starts_with=queue_name)]
    assert f"{queue_name}-poison-poison" not in names
    assert message_count(raw_queue(f"{queue_name}-poison")) == 1


def test_missing_setting_in_a_queue_name_is_a_clear_error(app_settings) -> None:
    """An unresolvable %MAIN_QUEUE% stops start-up with an error naming the setting."""
    settings = {k: v for k, v in app_settings.items() if k != "MAIN_QUEUE"}
    host = LocalHost(TRIVIAL_APP, settings=settings, inherit_env=False)
    with pytest.raises(LocalHostError, match="'%MAIN_QUEUE%' does not resolve"):
        host.start()


def test_http_routes_with_route_params(start_local_host, app_settings) -> None:
    """/api/items/{item_id} gets route params, query and body; unknown routes and methods 404."""
    host = start_local_host(TRIVIAL_APP, app_settings)
    got = requests.get(f"{host.http_url}/api/items/42", params={"x": "1"}, timeout=5)
    assert got.status_code == 200
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.json() == {
        "method": "GET",
        "route_params": {"item_id": "42"},
        "params": {"x": "1"},
        "body": "",
    }
    posted = requests.post(f"{host.http_url}/api/items/7", data="payload", timeout=5)
    assert posted.json()["body"] == "payload"
    assert requests.put(f"{host.http_url}/api/items/7", timeout=5).status_code == 404
    assert requests.get(f"{host.http_url}/api/nothing", timeout=5).status_code == 404
    assert requests.get(f"{host.http_url}/items/42", timeout=5).status_code == 404
    assert requests.get(f"{host.http_url}/api/boom", timeout=5).status_code == 500


def test_concurrency_is_batch_size_plus_new_batch_threshold(azurite, sender, queue_name) -> None:
    """With batchSize 2 and newBatchThreshold 1, a refill waits for ≤1 in flight; at most 3 run."""
    running = 0
    observed: list[int] = []
    lock = threading.Lock()
    release = threading.Semaphore(0)

    def hold(msg: func.QueueMessage) -> None:
        nonlocal running
        with lock:
            running += 1
            observed.append(running)
        release.acquire(timeout=20)
        with lock:
            running -= 1

    options = QueuesOptions(max_polling_interval=0.2, batch_size=2, new_batch_threshold=1)
    worker = Worker(8, None)
    listener = QueueListener(
        QueueFunction("hold", queue_name, None, "msg", hold),
        QueueClient.from_connection_string(azurite.connection_string, queue_name),
        None,
        options,
        worker,
    )
    for n in range(6):
        sender.send_message(str(n))
    listener.start()
    try:
        wait_for(lambda: running == 2, what="the first batch")
        time.sleep(0.6)
        assert running == 2  # 2 in flight > threshold 1: no new batch yet
        release.release()
        wait_for(lambda: running == 3, what="the refill")
        time.sleep(0.6)
        assert running == 3  # 3 in flight > threshold 1: still no new batch
        for _ in range(6):
            release.release()
        wait_for(lambda: len(observed) == 6 and running == 0, what="all six")
        assert max(observed) == 3
        assert listener.in_flight.peak == 3
        wait_for(lambda: message_count(sender) == 0, what="the deletes")
    finally:
        for _ in range(6):
            release.release()
        listener.stop(timeout=5)
        worker.close()


def test_two_hosts_share_a_queue_and_each_message_runs_once(
    start_local_host, app_settings, sender, records
) -> None:
    """Two host processes on one queue (scale-out) process each succeeding message exactly once."""
    settings = {**app_settings, f"{OVERRIDE}batchSize": "4", f"{OVERRIDE}newBatchThreshold": "0"}
    first = start_local_host(TRIVIAL_APP, settings)
    second = start_local_host(TRIVIAL_APP, settings)
    tags = [f"m{n}" for n in range(30)]
    for tag in tags:
        sender.send_message(json.dumps({"tag": tag, "actions": ["sleep:0.2"]}))
    wait_for(
        lambda: len(records.finished("main_queue")) >= len(tags), timeout=20, what="all messages"
    )
    wait_for(lambda: message_count(sender) == 0, what="the deletes")
    done = records.all("main_queue")
    assert sorted(r["tag"] for r in done) == sorted(tags)
    assert {r["dequeue_count"] for r in done} == {1}
    assert {r["pid"] for r in done} == {first.pid, second.pid}


def test_killed_host_leaves_the_message_for_a_restart(
    start_local_host, app_settings, sender, records
) -> None:
    """Renewal keeps a running message invisible; after SIGKILL it comes back (dequeue 2)."""
    host = start_local_host(TRIVIAL_APP, app_settings, receive_invisibility_seconds=2)
    sender.send_message(json.dumps({"tag": "crash", "actions": ["sleep:60", "ok"]}))
    wait_for(lambda: records.all("main_queue"), what="the first run")
    time.sleep(3)  # beyond the 2 s invisibility: only renewal keeps it from a second delivery
    assert len(records.all("main_queue")) == 1
    host.kill()
    killed_at = time.time()
    host.start()
    runs = wait_for(lambda: records.finished("main_queue"), timeout=40, what="the redelivery")
    assert [(r["dequeue_count"], r["action"]) for r in runs] == [(2, "ok")]
    # Back after the 2 s invisibility, not after the 60 s the renewals would have covered.
    assert runs[0]["start"] - killed_at < 30
    wait_for(lambda: message_count(sender) == 0, what="the delete")


# -- the worker and the host's escalation (issue 15: h1-h3) ------------------------------------


def test_function_timeout_fails_the_invocation_and_counts_toward_poison(
    start_local_host, app_settings, sender, raw_queue, records, queue_name
) -> None:
    """Every run outlasts functionTimeout (2 s): each fails, the worker restarts, and after
    maxDequeueCount (3) the message is in the poison queue; the host process survives."""
    settings = {**app_settings, "AzureFunctionsJobHost__functionTimeout": "00:00:02"}
    host = start_local_host(TRIVIAL_APP, settings)
    pid = host.pid
    sender.send_message(json.dumps({"tag": "slow", "actions": ["spin:30"]}))
    wait_for(lambda: _peek(raw_queue(f"{queue_name}-poison")), 30, "the poison message")
    runs = records.all("main_queue")
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    assert not any(r["completed"] for r in runs)  # the dead worker's code did not run on
    assert host.output.count("Timeout value of 00:00:02 exceeded by function") == 3
    assert "A function timeout has occurred. Restarting worker process" in host.output
    assert host.running and host.pid == pid
    sender.send_message(json.dumps({"tag": "after"}))
    wait_for(lambda: records.finished("main_queue")[-1:] and records.all()[-1]["tag"] == "after")


def test_kill_worker_fails_every_in_flight_invocation(
    start_local_host, app_settings, sender, records
) -> None:
    """kill_worker(): both running invocations fail at once and come back (dequeue 2) after the
    visibility timeout; the host keeps its process and polls on."""
    host = start_local_host(TRIVIAL_APP, app_settings, receive_invisibility_seconds=30)
    pid = host.pid
    for tag in ("a", "b"):
        sender.send_message(json.dumps({"tag": tag, "actions": ["spin:60", "ok"]}))
    wait_for(lambda: len(records.all("main_queue")) == 2, what="both runs")
    host.kill_worker()
    second = wait_for(
        lambda: [r for r in records.finished("main_queue") if r["dequeue_count"] == 2],
        what="the redeliveries",
    )
    wait_for(lambda: len(records.finished("main_queue")) == 4, what="all four runs to end")
    assert sorted(r["tag"] for r in second) == ["a", "b"]
    first = [r for r in records.all("main_queue") if r["dequeue_count"] == 1]
    assert not any(r["completed"] for r in first)
    assert host.running and host.pid == pid
    assert host.output.count("Executed 'Functions.main_queue' (Failed") == 2
    wait_for(lambda: message_count(sender) == 0, what="the deletes")


def test_non_none_return_fails_a_queue_invocation(
    start_local_host, app_settings, sender, records
) -> None:
    """A queue function without a $return binding that returns a value fails, as in the worker."""
    host = start_local_host(TRIVIAL_APP, app_settings)
    sender.send_message(json.dumps({"tag": "ret", "actions": ["return", "ok"]}))
    runs = wait_for(lambda: len(records.finished("main_queue")) == 2 and records.finished())
    assert [(r["dequeue_count"], r["action"]) for r in runs] == [(1, "return"), (2, "ok")]
    assert "without a $return binding returned a non-None value" in host.output
    wait_for(lambda: message_count(sender) == 0, what="the delete")


@contextmanager
def _tapped_host(
    start_local_host: Callable[..., LocalHost],
    app_settings: dict[str, str],
    azurite: Azurite,
    inspect: Callable[[SeenRequest], Answer | None],
    **options: Any,
) -> Iterator[LocalHost]:
    """A host whose queue calls pass through a Tap answering with ``inspect`` (closed after)."""
    port = azurite.port("queue")
    tap = Tap(port, inspect)
    try:
        connection = azurite.connection_string.replace(f":{port}/", f":{tap.port}/")
        settings = {**app_settings, "AzureWebJobsStorage": connection}
        yield start_local_host(TRIVIAL_APP, settings, **options)
    finally:
        tap.close()


def _faults(
    method: str, pattern: str, answer: Answer, times: int
) -> tuple[Callable[[SeenRequest], Answer | None], list[str]]:
    """An inspector answering the first ``times`` matching requests with ``answer``."""
    seen: list[str] = []

    def inspect(request: SeenRequest) -> Answer | None:
        target = f"{request.path}?{request.query}"
        if request.method == method and re.search(pattern, target) and len(seen) < times:
            seen.append(request.path)
            return answer
        return None

    return inspect, seen


SHUTTING_DOWN = "An unhandled exception has occurred. Host is shutting down."


def test_polling_403_restarts_the_host(
    start_local_host, app_settings, sender, records, azurite
) -> None:
    """A 403 while polling is rethrown by the listener: the host shuts down and restarts (a
    crash loop while it lasts), then works once the permission is back."""
    denied = Answer(403, "AuthorizationPermissionMismatch")
    inspect, seen = _faults("GET", r"/messages\?|comp=metadata|^/[^/]+/[^/]+\?$", denied, 3)
    with _tapped_host(start_local_host, app_settings, azurite, inspect) as host:
        pid = host.pid
        wait_for(lambda: host.output.count("Host restarted") >= 2, 30, "two restarts")
        assert host.output.count(SHUTTING_DOWN) >= 2
        assert len(seen) == 3
        sender.send_message(json.dumps({"tag": "after"}))
        wait_for(lambda: records.finished("main_queue"), 20, "a run after the restarts")
        assert host.pid == pid  # the restart is in-process, as the platform restarts the host


def test_renewal_finding_the_message_gone_stops_renewing_without_a_restart(
    start_local_host, app_settings, sender, records, azurite
) -> None:
    """A renewal answered 404 MessageNotFound (deleted or taken over meanwhile) stops the
    renewals and leaves the message alone: no escalation; still queued, it runs again."""
    gone = Answer(404, "MessageNotFound")
    inspect, seen = _faults("PUT", r"/messages/.*popreceipt=", gone, 1)
    with _tapped_host(
        start_local_host, app_settings, azurite, inspect, receive_invisibility_seconds=2
    ) as host:
        sender.send_message(json.dumps({"tag": "gone", "actions": ["spin:3", "ok"]}))
        runs = wait_for(
            lambda: len(records.finished("main_queue")) == 2 and records.finished(), 40, "rerun"
        )
        assert sorted(r["dequeue_count"] for r in runs) == [1, 2]
        wait_for(lambda: message_count(sender) == 0, what="the second run's delete")
        assert seen and "was taken over or deleted while running" in host.output
        assert SHUTTING_DOWN not in host.output


def test_delete_error_other_than_gone_restarts_the_host(
    start_local_host, app_settings, sender, records, azurite
) -> None:
    """A 403 on the delete after success escalates; the undeleted message runs again later."""
    denied = Answer(403, "AuthorizationPermissionMismatch")
    inspect, seen = _faults("DELETE", r"/messages/", denied, 1)
    with _tapped_host(
        start_local_host, app_settings, azurite, inspect, receive_invisibility_seconds=3
    ) as host:
        sender.send_message(json.dumps({"tag": "twice"}))
        runs = wait_for(
            lambda: len(records.finished("main_queue")) == 2 and records.finished(), 30, "rerun"
        )
        assert [r["dequeue_count"] for r in runs] == [1, 2]
        assert seen and SHUTTING_DOWN in host.output and "Host restarted" in host.output
        wait_for(lambda: message_count(sender) == 0, what="the second delete")


@pytest.mark.parametrize(
    "answer",
    [
        Answer(403, "AuthorizationPermissionMismatch"),
        pytest.param(Answer(503, "ServerBusy"), marks=pytest.mark.slow),  # retried ~1 min first
    ],
    ids=["403", "503"],
)
def test_renewal_error_restarts_the_host(
    start_local_host, app_settings, sender, records, azurite, answer
) -> None:
    """An error renewing a running message's invisibility, a 5xx included (the extension's
    renewal command rethrows it), shuts the host down; the running function still completes."""
    inspect, seen = _faults("PUT", r"/messages/.*popreceipt=", answer, 1000)
    with _tapped_host(
        start_local_host, app_settings, azurite, inspect, receive_invisibility_seconds=2
    ) as host:
        spin = 75 if answer.status >= 500 else 3
        sender.send_message(json.dumps({"tag": "renew", "actions": [f"spin:{spin}", "ok"]}))
        wait_for(lambda: SHUTTING_DOWN in host.output, spin + 30, "the escalation")
        assert seen
        wait_for(lambda: records.finished("main_queue"), spin + 30, "the run to end")
        wait_for(lambda: "Host restarted" in host.output, 30, "the restart")
