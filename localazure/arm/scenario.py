"""Scenario knobs: how long Azure takes to settle, and which requests it refuses.

A :class:`Countdown` models every "eventually consistent" delay the same way: it stays
pending for a number of observations (reads or polls) and/or until a deadline.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal[
    "throttle",
    "server_error",
    "unavailable",
    "unauthorized",
    "forbidden",
    "policy",
    "drop",
    "operation_not_allowed",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
Outcome = Literal["Succeeded", "Failed", "Canceled"]
AksLagMode = Literal["immediate", "async"]


@dataclass
class Countdown:
    """Pending while observations remain or the deadline has not passed."""

    observations: int = 0
    deadline: float = 0.0

    @classmethod
    def start(cls, count: int = 0, seconds: float = 0.0) -> Countdown:
        return cls(max(count, 0), time.monotonic() + seconds if seconds > 0 else 0.0)

    def pending(self) -> bool:
        return self.observations > 0 or time.monotonic() < self.deadline

    def observe(self) -> bool:
        """Record one observation; True when it still saw the pending state."""
        was_pending = self.pending()
        if self.observations > 0:
            self.observations -= 1
        return was_pending


@dataclass(frozen=True)
class Lag:
    """A delay as a number of observations and/or seconds."""

    count: int = 0
    seconds: float = 0.0

    def countdown(self) -> Countdown:
        return Countdown.start(self.count, self.seconds)


@dataclass(frozen=True)
class AksLag:
    """How long the AKS provider does not see a new group, and how it says so."""

    failures: int = 0
    seconds: float = 0.0
    mode: AksLagMode = "immediate"


@dataclass
class ClusterPlan:
    """How a cluster create/update operation ends and how long it takes."""

    polls: int = 1
    seconds: float = 0.0
    outcome: Outcome = "Succeeded"
    error_code: str = "InternalOperationError"
    error_message: str = "Reconcile managed cluster failed."
    # How many operations take ``outcome`` Failed before later ones succeed (None: all).
    times: int | None = None


@dataclass
class Fault:
    """An injected failure for requests whose method and path match."""

    kind: FaultKind
    method: str = "*"
    path: str = ".*"
    times: int | None = 1
    retry_after: int = 1
    action: str | None = None
    scope: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        self.pattern = re.compile(self.path, re.IGNORECASE)

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None

    def fire(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass(frozen=True)
class Flap:
    """Windows of seconds, counted from a group's creation, in which a reader does not see it.

    Cross-region replication can answer 404 after a successful create and then flip back and
    forth (visible, 404, visible); each ``(start, end)`` is one 404 spell.
    """

    windows: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        for start, end in self.windows:
            if not 0 <= start < end:
                raise ValueError(f"a flap window needs 0 <= start < end, not ({start}, {end})")

    def hidden(self, created: float) -> bool:
        elapsed = time.monotonic() - created
        return any(start <= elapsed < end for start, end in self.windows)


@dataclass
class TokenBucket:
    """ARM's throttling: ``size`` tokens, refilled at ``refill`` a second; a request takes one."""

    size: float
    refill: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.size < 1 or self.refill <= 0:
            raise ValueError("a token bucket needs size >= 1 and refill > 0")
        if self.tokens < 0:
            self.tokens = self.size

    def take(self) -> float:
        """0 when a token was taken; otherwise the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill

    def remaining(self) -> int:
        return int(self.tokens)
