"""One queue-triggered function's listener: poll, dispatch, complete, as storage extension v5 does.

Per function: a polling thread that receives ``batchSize`` messages with the receive invisibility
(10 minutes in the host), a handler per message (at most ``batchSize + newBatchThreshold`` at a
time) and the app's ``Worker`` that runs the user's code. While the function
runs, the handler renews the message's invisibility at half the receive invisibility, as the host's
visibility timer does. Nothing here assumes this process is the queue's only consumer: ownership is
the pop receipt, and a stale one only means another consumer took the message over. Storage
errors the real listener rethrows (see docs/local-host.md) stop the listener and go to
``on_fatal``: the host shuts down and restarts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.functions.queue import QueueMessage as TriggerMessage
from azure.storage.queue import QueueClient, QueueMessage

from localazure.host.app import CoroutineRunner, QueueFunction
from localazure.host.config import RECEIVE_INVISIBILITY_SECONDS, QueuesOptions
from localazure.host.policy import (
    InFlight,
    RandomizedExponentialBackoff,
    UndecodableMessage,
    decode_body,
    encode_body,
)
from localazure.host.worker import Worker

log = logging.getLogger("localazure.host")

_GONE_CODES = {"MessageNotFound", "QueueNotFound", "PopReceiptMismatch", "QueueBeingDeleted"}
_GONE_CODES |= {"QueueDisabled"}


def _is_transient_poll_error(exc: HttpResponseError) -> bool:
    """The errors QueueListener backs off on: queue not found, being deleted or disabled, 5xx.

    Anything else (403, 400, a transport failure) is rethrown there and restarts the host.
    """
    code = getattr(exc, "error_code", None)
    status = exc.status_code or 0
    return (
        (status == 404 and code in (None, "QueueNotFound"))
        or (status == 409 and code in ("QueueBeingDeleted", "QueueDisabled"))
        or status >= 500
    )


def _is_gone(exc: HttpResponseError) -> bool:
    """The message is no longer ours to settle: deleted, taken over, or its queue is gone."""
    code = getattr(exc, "error_code", None)
    return (
        isinstance(exc, ResourceNotFoundError)
        or code in _GONE_CODES
        or (exc.status_code == 400 and code is None and "PopReceipt" in str(exc))
    )


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a queue function received, for hosts that want to observe dispatch (tests, logs)."""

    function: str
    invocation_id: str
    message_id: str
    dequeue_count: int
    succeeded: bool
    duration: float


class QueueListener:
    """Runs one queue-triggered function against one queue.

    ``queue`` and ``poison_queue`` must be clients without message encode/decode policies: the
    listener decodes bodies itself so that an undecodable message can be recognised and copied
    verbatim, as the host does through its non-encoding client.
    """

    def __init__(
        self,
        function: QueueFunction,
        queue: QueueClient,
        poison_queue: QueueClient | None,
        options: QueuesOptions,
        worker: Worker,
        *,
        receive_invisibility_seconds: int = RECEIVE_INVISIBILITY_SECONDS,
        on_poison: Callable[[str], None] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        backoff: RandomizedExponentialBackoff | None = None,
    ) -> None:
        if receive_invisibility_seconds < 1:
            raise ValueError("receive_invisibility_seconds must be at least 1")
        self.function = function
        self.queue = queue
        self.poison_queue = poison_queue
        self.options = options
        self.receive_invisibility_seconds = receive_invisibility_seconds
        self.in_flight = InFlight(options.batch_size, options.new_batch_threshold)
        self._worker = worker
        self._on_fatal = on_fatal
        self._handlers = ThreadPoolExecutor(
            max_workers=options.max_in_flight, thread_name_prefix=f"queue-{function.name}"
        )
        self._backoff = backoff or RandomizedExponentialBackoff(options.max_polling_interval)
        self._on_poison = on_poison
        self._on_invocation = on_invocation
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue_exists: bool | None = None
        self._found_since_last_delay = False
        self.function_log = logging.getLogger(f"Function.{function.name}")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def queue_name(self) -> str:
        return self.function.queue_name

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._poll_loop, name=f"poll-{self.function.name}", daemon=True
        )
        self._thread.start()
        log.debug("Storage queue listener started (queue name='%s')", self.queue_name)

    def request_stop(self) -> None:
        """Stop polling (messages already received still complete)."""
        self._stopping.set()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling, then wait (up to ``timeout``) for messages in flight to complete."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.in_flight.wait_until_idle(timeout):
            log.warning(
                "Function '%s': %d message(s) still in flight at shutdown; they become visible "
                "again when their invisibility expires",
                self.function.name,
                self.in_flight.count,
            )
        self._handlers.shutdown(wait=False, cancel_futures=True)

    def notify(self) -> None:
        """A message was just added to this queue by this host: poll now instead of backing off."""
        self._wake.set()

    # -- polling ---------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            if not self.in_flight.wait_until_can_fetch(timeout=0.25):
                continue
            if self._stopping.is_set():
                break
            self._wake.clear()
            batch = self.poll_once()
            if batch:
                continue
            delay = self._backoff.next_delay(self._found_since_last_delay)
            self._found_since_last_delay = False
            log.debug(
                "Function '%s' will wait %.0f ms before polling queue '%s'.",
                self.function.name,
                delay * 1000,
                self.queue_name,
            )
            self._wake.wait(delay)

    def poll_once(self) -> list[QueueMessage]:
        """Receive one batch and dispatch it to handler threads; returns the batch."""
        batch = self._receive()
        if batch:
            self._found_since_last_delay = True
            self.in_flight.started(len(batch))
            for message in batch:
                try:
                    self._handlers.submit(self._handle, message)
                except RuntimeError:  # shutting down: the message becomes visible again later
                    self.in_flight.finished()
        return batch

    def _receive(self) -> list[QueueMessage]:
        started = time.monotonic()
        try:
            if not self._queue_exists:
                self._queue_exists = self._exists()
            if not self._queue_exists:
                return []
            pages = self.queue.receive_messages(
                messages_per_page=self.in_flight.receive_count(),
                visibility_timeout=self.receive_invisibility_seconds,
            ).by_page()
            try:
                batch = list(next(pages))
            except StopIteration:
                batch = []
        except HttpResponseError as exc:
            self._queue_exists = None
            if not _is_transient_poll_error(exc):
                self._fail(f"polling queue '{self.queue_name}' failed", exc)
                return []
            level = logging.DEBUG if isinstance(exc, ResourceNotFoundError) else logging.WARNING
            log.log(
                level,
                "Function '%s': polling queue '%s' failed (%s %s); backing off",
                self.function.name,
                self.queue_name,
                exc.status_code,
                getattr(exc, "error_code", None),
            )
            return []
        except AzureError as exc:  # a transport failure, after the client's own retries
            self._queue_exists = None
            self._fail(f"polling queue '{self.queue_name}' failed", exc)
            return []
        log.debug(
            "Function '%s' received %d message(s) from queue '%s' in %.0f ms",
            self.function.name,
            len(batch),
            self.queue_name,
            (time.monotonic() - started) * 1000,
        )
        return batch

    def _exists(self) -> bool:
        try:
            self.queue.get_queue_properties()
        except ResourceNotFoundError:
            return False
        return True

    # -- one message -----------------------------------------------------------------------

    def _handle(self, message: QueueMessage) -> None:
        try:
            self.process(message)
        except Exception as exc:  # delete, release or poison copy failed: the host restarts
            self._fail(f"processing message '{message.id}' failed", exc)
        finally:
            self.in_flight.finished()

    def _fail(self, what: str, exc: BaseException) -> None:
        """A non-transient storage error: as the real listener rethrows it, stop and escalate."""
        log.error("Function '%s': %s: %r", self.function.name, what, exc)
        self.request_stop()
        if self._on_fatal is not None:
            self._on_fatal(exc)

    def process(self, message: QueueMessage) -> None:
        """Decode, invoke and complete one received message (the host's QueueProcessor steps)."""
        text = message.content if isinstance(message.content, str) else str(message.content or "")
        try:
            body = decode_body(text, self.options.message_encoding)
        except UndecodableMessage:
            log.warning(
                "Message decoding has failed! Check MessageEncoding settings. MessageId=%s.",
                message.id,
            )
            # The host copies it through a client without encoding: the raw text, verbatim.
            self._move_to_poison(message, text)
            return
        dequeue_count = int(message.dequeue_count or 0)
        if dequeue_count > self.options.max_dequeue_count:
            self._move_to_poison(message, encode_body(body, self.options.message_encoding))
            return

        trigger = TriggerMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        succeeded, pop_receipt = self._invoke_with_renewal(message, trigger)
        if pop_receipt is None:
            return  # lost the message to another consumer while the function ran
        message.pop_receipt = pop_receipt
        if succeeded:
            self._delete(message)
        elif self.poison_queue is not None:
            if dequeue_count >= self.options.max_dequeue_count:
                self._move_to_poison(message, encode_body(body, self.options.message_encoding))
            else:
                self._release(message)
        # A queue without a poison queue leaves a failed message invisible (no fast retry loop).

    def _invoke_with_renewal(
        self, message: QueueMessage, trigger: TriggerMessage
    ) -> tuple[bool, str | None]:
        """Run the function, renewing its invisibility meanwhile: (succeeded, pop receipt)."""
        invocation_id = str(uuid.uuid4())
        self.function_log.info(
            "Executing 'Functions.%s' (Reason='New queue message detected on '%s'.', Id=%s)",
            self.function.name,
            self.queue_name,
            invocation_id,
        )
        self.function_log.info(
            "Trigger Details: MessageId: %s, DequeueCount: %s, InsertedOn: %s",
            message.id,
            message.dequeue_count,
            message.inserted_on.isoformat() if message.inserted_on else None,
        )
        started = time.monotonic()
        future = self._worker.invoke(self.function.name, invocation_id, self._call(trigger))
        pop_receipt: str | None = message.pop_receipt
        renew_every = self.receive_invisibility_seconds / 2
        renewing = True
        while True:
            done, _ = concurrent.futures.wait([future], timeout=renew_every)
            if done:
                break
            if renewing:
                pop_receipt, renewing = self._renew(message, pop_receipt)
        error = future.exception()
        duration = time.monotonic() - started
        succeeded = error is None
        if succeeded:
            self.function_log.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)",
                self.function.name,
                invocation_id,
                duration * 1000,
            )
        else:
            self.function_log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)",
                self.function.name,
                invocation_id,
                duration * 1000,
                exc_info=error,
            )
        if self._on_invocation is not None:
            self._on_invocation(
                Invocation(
                    function=self.function.name,
                    invocation_id=invocation_id,
                    message_id=str(message.id),
                    dequeue_count=int(message.dequeue_count or 0),
                    succeeded=succeeded,
                    duration=duration,
                )
            )
        return succeeded, pop_receipt

    def _call(self, trigger: TriggerMessage) -> Callable[[CoroutineRunner], None]:
        function = self.function

        def call(runner: CoroutineRunner) -> None:
            result = runner.call(function.user_function, {function.parameter: trigger})
            # The worker fails an invocation whose function has no $return binding (a queue
            # trigger here never has one) but returned something.
            if result is not None:
                raise RuntimeError(
                    f"function {function.name!r} without a $return binding returned a "
                    "non-None value"
                )

        return call

    def _renew(self, message: QueueMessage, pop_receipt: str | None) -> tuple[str | None, bool]:
        """(pop receipt, keep renewing). As UpdateQueueMessageVisibilityCommand: a gone message
        stops the renewal; any other error, a 5xx included, escalates to a host restart."""
        if pop_receipt is None:
            return None, False
        try:
            updated = self.queue.update_message(
                message.id,
                pop_receipt=pop_receipt,
                visibility_timeout=self.receive_invisibility_seconds,
            )
        except AzureError as exc:
            if isinstance(exc, HttpResponseError) and _is_gone(exc):
                log.warning(
                    "Function '%s': message '%s' was taken over or deleted while running",
                    self.function.name,
                    message.id,
                )
                return None, False
            self._fail(f"renewing message '{message.id}' failed", exc)
            return pop_receipt, False
        return str(updated.pop_receipt), True

    def _delete(self, message: QueueMessage) -> None:
        try:
            self.queue.delete_message(message.id, pop_receipt=message.pop_receipt)
        except HttpResponseError as exc:
            if not _is_gone(exc):
                raise
            log.debug(
                "Unable to delete queue message '%s' (%s); another consumer may own it",
                message.id,
                getattr(exc, "error_code", exc.status_code),
            )

    def _release(self, message: QueueMessage) -> None:
        """Make a failed message visible again after ``visibilityTimeout``."""
        try:
            self.queue.update_message(
                message.id,
                pop_receipt=message.pop_receipt,
                visibility_timeout=round(self.options.visibility_timeout),
            )
        except HttpResponseError as exc:
            if not _is_gone(exc):
                raise

    def _move_to_poison(self, message: QueueMessage, text: str) -> None:
        if self.poison_queue is None:
            return  # a poison queue's own failures stay invisible, as in the host
        log.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self.options.max_dequeue_count,
            self.poison_queue.queue_name,
        )
        try:
            self.poison_queue.send_message(text)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):  # another consumer was first
                self.poison_queue.create_queue()
            self.poison_queue.send_message(text)
        self._delete(message)
        if self._on_poison is not None:
            self._on_poison(self.poison_queue.queue_name)
