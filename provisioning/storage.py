"""Azure Storage I/O: the status table, the app's own queue messages, and the poison archive.

Every client derives its connection from ``AzureWebJobsStorage``, the same setting the trigger
uses: a connection string, or the identity-based form (``__queueServiceUri`` and
``__tableServiceUri``, or ``__accountName``, with ``__credential``/``__clientId``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.queue import (
    QueueClient,
    TextBase64EncodePolicy,
)

from provisioning.credentials import SharedTokenCredential
from provisioning.due_index import DueEntry, due_filter, slot_of
from provisioning.errors import ErrorInfo, StorageUnavailable
from provisioning.messages import ChainMessage, Delivery
from provisioning.poison import UNREADABLE
from provisioning.settings import SettingsError
from provisioning.status import ROW_KEY, StatusRecord, iso
from provisioning.table_limits import check_fits
from provisioning.views import Page, Slot

CONNECTION = "AzureWebJobsStorage"
# Longer than any wait the app schedules (visibility checks, a group's deletion, the AKS watch).
CHAIN_MESSAGE_TTL_SECONDS = 7 * 24 * 3600
# Bounded: a storage hiccup is retried once or twice, never for long inside an invocation.
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "initial_backoff": 0.5,
    "increment_base": 2,
    "connection_timeout": 5,
    "read_timeout": 20,
}


@dataclass(frozen=True, slots=True)
class StorageConnection:
    """Where the account's queue and table services are, and how to authenticate to them."""

    connection_string: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential: TokenCredential | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], name: str = CONNECTION) -> StorageConnection:
        if env.get(name):
            return cls(connection_string=env[name])
        prefix = f"{name}__"
        account = env.get(f"{prefix}accountName")
        queue_url = env.get(f"{prefix}queueServiceUri") or (
            f"https://{account}.queue.core.windows.net" if account else None
        )
        table_url = env.get(f"{prefix}tableServiceUri") or (
            f"https://{account}.table.core.windows.net" if account else None
        )
        if not queue_url or not table_url:
            raise SettingsError(
                f"{name} is not set: give a connection string, or {prefix}queueServiceUri and "
                f"{prefix}tableServiceUri (or {prefix}accountName) for an identity connection"
            )
        client_id = env.get(f"{prefix}clientId") or None
        inner: TokenCredential
        if env.get(f"{prefix}credential", "").lower() == "managedidentity":
            inner = ManagedIdentityCredential(client_id=client_id)
        else:
            inner = DefaultAzureCredential(managed_identity_client_id=client_id)
        credential = SharedTokenCredential(inner)
        return cls(queue_url=queue_url, table_url=table_url, credential=credential)

    def queue(self, queue_name: str, *, encode: bool = True) -> QueueClient:
        """A client that base64-encodes what it sends (the contract), or sends text as is."""
        policy = TextBase64EncodePolicy() if encode else None
        if self.connection_string:
            return QueueClient.from_connection_string(
                self.connection_string,
                queue_name,
                message_encode_policy=policy,
                **_CLIENT_OPTIONS,
            )
        return QueueClient(
            str(self.queue_url),
            queue_name,
            credential=self.credential,
            message_encode_policy=policy,
            **_CLIENT_OPTIONS,
        )

    def table(self, table_name: str) -> TableClient:
        if self.connection_string:
            service = TableServiceClient.from_connection_string(
                self.connection_string, **_CLIENT_OPTIONS
            )
        else:
            service = TableServiceClient(
                str(self.table_url),
                credential=self.credential,
                **_CLIENT_OPTIONS,
            )
        return service.get_table_client(table_name)


P = ParamSpec("P")
R = TypeVar("R")
_RETRY_LATER = frozenset({408, 429})  # and every 5xx (ServerBusy is 503, OperationTimedOut 500)


def storage_unavailable(error: AzureError) -> StorageUnavailable | None:
    """The one classifier of storage errors: transient ones become StorageUnavailable.

    Transient: no connection or a dropped one, a timeout (the SDK's own retries spent), 408,
    429, any 5xx, and a token the credential could not get (or that storage refused as expired,
    401). Not transient: 403 (a missing role does not pass) and the 404/409/412 the callers
    handle themselves.
    """
    text = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return StorageUnavailable(ErrorInfo("StorageUnreachable", text))
    if isinstance(error, ClientAuthenticationError) and error.status_code in (None, 401):
        return StorageUnavailable(ErrorInfo("StorageTokenUnavailable", text))
    status = error.status_code if isinstance(error, HttpResponseError) else None
    if status is not None and (status in _RETRY_LATER or status >= 500):
        code = getattr(error, "error_code", None) or f"Http{status}"
        return StorageUnavailable(ErrorInfo(str(code), text))
    return None


def storage_call(call: Callable[P, R]) -> Callable[P, R]:
    """Raise StorageUnavailable for what ``storage_unavailable`` calls transient."""

    @functools.wraps(call)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return call(*args, **kwargs)
        except AzureError as error:
            unavailable = storage_unavailable(error)
            if unavailable is None:
                raise
            raise unavailable from error

    return guarded


def ensure_table(table: TableClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        table.create_table()


class TableDueIndex:
    """The overdue index in the status table (the key scheme: ``provisioning.due_index``)."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    @storage_call
    def file(self, request_id: str, due: datetime) -> DueEntry:
        entry = DueEntry(request_id, slot_of(due))
        entity = {"PartitionKey": entry.slot, "RowKey": request_id, "due_at": iso(due)}
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return entry

    @storage_call
    def due(self, now: datetime, limit: int) -> list[DueEntry]:
        found: list[DueEntry] = []
        query = self._table.query_entities(
            due_filter(now), select=["PartitionKey", "RowKey"], results_per_page=limit
        )
        for entity in query:
            found.append(DueEntry(entity["RowKey"], entity["PartitionKey"]))
            if len(found) >= limit:
                break
        return found

    @storage_call
    def remove(self, entry: DueEntry) -> None:
        # Gone already: another sweeper (or an earlier tick that died) removed it.
        with contextlib.suppress(ResourceNotFoundError):
            self._table.delete_entity(entry.slot, entry.request_id)


class StatusStore:
    """Status records, written only with ETag conditions: of two concurrent chains one wins.

    With an ``index``, every insert first files the request in the overdue index (due at its
    creation plus ``first_look``), so that the sweeper will look at it once at least: before
    the record, so that no record exists that the sweeper cannot find.
    """

    def __init__(
        self,
        table: TableClient,
        index: TableDueIndex | None = None,
        first_look: timedelta = timedelta(minutes=15),
    ) -> None:
        self._table = table
        self._index = index
        self._first_look = first_look

    @storage_call
    def get(self, request_id: str) -> StatusRecord | None:
        try:
            entity = self._table.get_entity(request_id, ROW_KEY)
        except ResourceNotFoundError:
            return None
        return StatusRecord.from_entity(dict(entity), entity.metadata.get("etag"))

    @storage_call
    def insert(self, record: StatusRecord) -> StatusRecord | None:
        """The record as stored, or None when a record for that request already exists."""
        entity = record.to_entity()
        check_fits(entity)
        if self._index is not None:
            self._index.file(record.request_id, record.created_at + self._first_look)
        try:
            meta = self._table.create_entity(entity)
        except ResourceExistsError:
            return None
        return replace(record, etag=meta.get("etag"))

    @storage_call
    def replace(self, record: StatusRecord) -> StatusRecord | None:
        """The record as stored, or None when someone else wrote it since ``record`` was read."""
        entity = record.to_entity()
        check_fits(entity)
        try:
            meta = self._table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return replace(record, etag=meta.get("etag"))

    @storage_call
    def delete(self, record: StatusRecord) -> bool:
        """Delete the record as read (its ETag); False when it changed or is gone meanwhile."""
        try:
            self._table.delete_entity(
                record.request_id,
                ROW_KEY,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True


class Outbox:
    """What the function sends to queues: its next chain message, and bodies it gives up on."""

    def __init__(self, queue: QueueClient, poison: QueueClient) -> None:
        self._queue = queue
        self._poison = poison

    @storage_call
    def send_chain(self, message: ChainMessage, delay_seconds: int) -> None:
        self._queue.send_message(
            message.to_json(),
            visibility_timeout=delay_seconds,
            time_to_live=CHAIN_MESSAGE_TTL_SECONDS,
        )

    @storage_call
    def send_poison(self, wire: bytes) -> None:
        """Park a message's text, exactly as it was queued, on the poison queue."""
        text = wire.decode("utf-8", "replace")
        try:
            self._poison.send_message(text)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):  # a concurrent invocation was first
                self._poison.create_queue()
            self._poison.send_message(text)


class PoisonArchive:
    """Every poisoned body, kept beyond the queue's 7-day message lifetime, for re-drive."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    @storage_call
    def put(self, entity: dict[str, Any]) -> None:
        # Upsert: a body archived twice (redelivery) stays one row.
        check_fits(entity)
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    @storage_call
    def delete_request(self, request_id: str) -> int:
        """Delete every archived body of one request (its partition); how many there were."""
        return self._delete(
            self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": request_id}, select=["RowKey"]
            ),
            request_id,
        )

    @storage_call
    def delete_unreadable_before(self, cutoff: datetime) -> int:
        """Delete the bodies no request id could be read from, archived before ``cutoff``."""
        return self._delete(
            self._table.query_entities(
                "PartitionKey eq @pk and archived_at lt @cutoff",
                parameters={"pk": UNREADABLE, "cutoff": iso(cutoff)},
                select=["RowKey"],
            ),
            UNREADABLE,
        )

    def _delete(self, rows: Any, partition: str) -> int:
        deleted = 0
        for row in rows:
            with contextlib.suppress(ResourceNotFoundError):
                self._table.delete_entity(partition, row["RowKey"])
                deleted += 1
        return deleted

    def rows(self, request_id: str | None = None) -> list[dict[str, Any]]:
        if request_id:
            found = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": request_id})
        else:
            found = self._table.list_entities()
        return [dict(row) for row in found]


class DrainQueue:
    """A queue the sweeper empties: ``-poison-poison``, which no trigger reads."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    @storage_call
    def receive(self, limit: int) -> list[tuple[Delivery, str]]:
        """Up to ``limit`` messages, each with its pop receipt; none when the queue is absent."""
        try:
            messages = list(
                self._queue.receive_messages(max_messages=min(limit, 32), visibility_timeout=120)
            )
        except ResourceNotFoundError:
            return []
        received = []
        for message in messages[:limit]:
            text = message.content if isinstance(message.content, str) else ""
            delivery = Delivery(str(message.id), text.encode(), int(message.dequeue_count or 0))
            received.append((delivery, str(message.pop_receipt)))
        return received

    @storage_call
    def delete(self, delivery: Delivery, pop_receipt: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._queue.delete_message(delivery.id, pop_receipt)


_SLOT = "slot-"
_LISTED = "r-"  # listing rows sort before slots ("r-" < "slot-")
_NEWEST_FIRST = 10**13  # RowKeys sort ascending: (this - epoch ms) puts the newest first


def _slot_entity(key: str, number: int, request_id: str, run: int, now: datetime) -> dict[str, Any]:
    return {
        "PartitionKey": key,
        "RowKey": f"{_SLOT}{number:03d}",
        "request_id": request_id,
        "run": run,
        "taken_at": iso(now),
    }


class RequesterTable:
    """The per-requester partitions of ``inflight.take_slot`` and of the listing route."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    @storage_call
    def slots(self, key: str) -> list[Slot]:
        rows = self._table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": key, "lo": _SLOT, "hi": "slot."},
        )
        return [
            Slot(
                number=int(str(row["RowKey"])[len(_SLOT) :]),
                request_id=str(row.get("request_id", "")),
                taken_at=datetime.fromisoformat(str(row["taken_at"]).replace("Z", "+00:00")),
                etag=row.metadata.get("etag"),
                run=int(row.get("run", 1)),  # rows from before runs were recorded: run 1
            )
            for row in rows
        ]

    @storage_call
    def take(self, key: str, number: int, request_id: str, now: datetime, run: int = 1) -> bool:
        try:
            self._table.create_entity(_slot_entity(key, number, request_id, run, now))
        except ResourceExistsError:
            return False
        return True

    @storage_call
    def renew(self, key: str, slot: Slot, run: int, now: datetime) -> bool:
        try:
            self._table.update_entity(
                _slot_entity(key, slot.number, slot.request_id, run, now),
                mode=UpdateMode.REPLACE,
                etag=slot.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    @storage_call
    def free(self, key: str, slot: Slot) -> None:
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._table.delete_entity(
                key,
                f"{_SLOT}{slot.number:03d}",
                etag=slot.etag,
                match_condition=MatchConditions.IfNotModified,
            )

    @storage_call
    def note(self, key: str, request_id: str, created_at: datetime) -> None:
        inverted = _NEWEST_FIRST - int(created_at.timestamp() * 1000)
        entity = {
            "PartitionKey": key,
            "RowKey": f"{_LISTED}{inverted:013d}-{request_id}",
            "request_id": request_id,
        }
        self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    @storage_call
    def page(self, key: str, size: int, continuation: str | None) -> Page:
        after = _decode_continuation(continuation) or _LISTED
        rows = self._table.query_entities(
            "PartitionKey eq @pk and RowKey gt @after and RowKey lt @hi",
            parameters={"pk": key, "after": after, "hi": "r."},
            results_per_page=size,
            select=["RowKey", "request_id"],
        )
        items = [dict(row) for row in next(iter(rows.by_page()), ())][:size]
        more = len(items) == size
        last = str(items[-1]["RowKey"]) if items and more else None
        return Page(
            request_ids=tuple(str(row["request_id"]) for row in items),
            continuation=_encode_continuation(last) if last else None,
        )


def _encode_continuation(row_key: str) -> str:
    return base64.urlsafe_b64encode(row_key.encode()).decode().rstrip("=")


def _decode_continuation(token: str | None) -> str | None:
    """The RowKey a page starts after; ValueError for a token this app did not make."""
    if not token:
        return None
    try:
        row_key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        row_key = ""
    if not row_key.startswith(_LISTED):
        raise ValueError("continuation is not a token this API returned")
    return row_key


class MessageLease:
    """The message a trigger delivered, pushed out of sight by its pop receipt (a deferral)."""

    def __init__(self, queue: QueueClient) -> None:
        self._queue = queue

    @storage_call
    def defer(self, delivery: Delivery, seconds: int) -> None:
        try:
            self._queue.update_message(
                delivery.id, pop_receipt=delivery.pop_receipt, visibility_timeout=seconds
            )
        except HttpResponseError as error:
            # Not ours any more (its lease was renewed or it is gone): the host decides.
            raise StorageUnavailable(ErrorInfo("MessageNotDeferred", str(error)[:300])) from error
