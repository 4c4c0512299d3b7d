"""The queue listener's pure policies: polling back-off, in-flight bookkeeping, message decoding.

No I/O here, so each policy is unit-tested on its own.
"""

from __future__ import annotations

import base64
import binascii
import random
import threading
from collections.abc import Callable

from localazure.host.config import MIN_POLLING_INTERVAL

RANDOMIZATION_FACTOR = 0.2


class RandomizedExponentialBackoff:
    """The host's queue polling delay (RandomizedExponentialBackoffStrategy).

    After a poll that found messages the delay is the minimum (100 ms). After each empty poll it
    grows to ``minimum + r * 2**(n-1) * minimum`` with ``r`` uniform in [0.8, 1.2), until it reaches
    ``maximum`` (``maxPollingInterval``), where it stays until messages are found again.
    """

    def __init__(
        self,
        maximum: float,
        minimum: float = MIN_POLLING_INTERVAL,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if minimum < 0 or maximum < 0:
            raise ValueError("intervals must not be negative")
        if minimum > maximum:
            raise ValueError("the minimum interval must not be greater than the maximum")
        self.minimum = minimum
        self.maximum = maximum
        self.delta = minimum
        self._uniform = uniform
        self._current = 0.0
        self._exponent = 0

    def next_delay(self, found_messages: bool) -> float:
        """The delay before the next poll, given whether messages were found since the last one."""
        if found_messages:
            self._current = self.minimum
            self._exponent = 1
        elif self._current != self.maximum:
            interval = self.minimum
            if self._exponent > 0:
                factor = self._uniform(1.0 - RANDOMIZATION_FACTOR, 1.0 + RANDOMIZATION_FACTOR)
                interval += factor * 2.0 ** (self._exponent - 1) * self.delta
            if interval < self.maximum:
                self._current = interval
                self._exponent += 1
            else:
                self._current = self.maximum
        return self._current


class InFlight:
    """Messages being processed by one queue function, and when a new batch may be fetched.

    The host fetches ``batch_size`` messages, then fetches again only once the number still being
    processed has dropped to ``new_batch_threshold`` or below, so at most
    ``batch_size + new_batch_threshold`` are ever in flight.
    """

    def __init__(self, batch_size: int, new_batch_threshold: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if new_batch_threshold < 0:
            raise ValueError("new_batch_threshold must not be negative")
        self.batch_size = batch_size
        self.new_batch_threshold = new_batch_threshold
        self._count = 0
        self._peak = 0
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        return self.batch_size + self.new_batch_threshold

    @property
    def count(self) -> int:
        with self._changed:
            return self._count

    @property
    def peak(self) -> int:
        with self._changed:
            return self._peak

    def can_fetch(self) -> bool:
        with self._changed:
            return self._count <= self.new_batch_threshold

    def receive_count(self) -> int:
        """How many messages the next receive asks for (always a full batch, as the host does)."""
        return self.batch_size

    def started(self, n: int = 1) -> None:
        with self._changed:
            if self._count + n > self.limit:
                raise RuntimeError(
                    f"{self._count + n} messages in flight would exceed the limit of {self.limit}"
                )
            self._count += n
            self._peak = max(self._peak, self._count)
            self._changed.notify_all()

    def finished(self) -> None:
        with self._changed:
            if self._count == 0:
                raise RuntimeError("finished() without a matching started()")
            self._count -= 1
            self._changed.notify_all()

    def wait_until_can_fetch(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count <= self.new_batch_threshold, timeout)

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class UndecodableMessage(ValueError):
    """The message text is not valid for ``messageEncoding``."""


_BASE64_WHITESPACE = str.maketrans("", "", " \t\r\n")


def decode_body(text: str, encoding: str) -> bytes:
    """The message body as the function sees it: base64-decoded, or the UTF-8 text as is."""
    if encoding == "none":
        return text.encode("utf-8")
    if encoding != "base64":
        raise ValueError(f"unknown message encoding {encoding!r}")
    try:
        return base64.b64decode(text.translate(_BASE64_WHITESPACE), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UndecodableMessage(str(exc)) from exc


def encode_body(body: bytes, encoding: str) -> str:
    """Message text for ``body`` as a client configured with ``encoding`` sends it."""
    if encoding == "none":
        return body.decode("utf-8", errors="replace")
    if encoding != "base64":
        raise ValueError(f"unknown message encoding {encoding!r}")
    return base64.b64encode(body).decode("ascii")
