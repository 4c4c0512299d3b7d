"""The one error taxonomy of the app: every failure is transient, terminal, or a bug.

    ProvisioningError
     ├── TransientError     retry later, after ``retry_after`` seconds if Azure said so
     └── TerminalError      record ``failed`` with an ARM-style error and stop
          └── InvalidRequest    the message itself is malformed or disallowed

Anything else raised inside an invocation is a bug: it propagates, the Functions host retries
the message and, after ``maxDequeueCount`` deliveries, moves it to the poison queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioning.texts import capped


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What the status record and the SPA see of a failure (ARM's error shape, flattened)."""

    code: str
    message: str
    action: str | None = None
    scope: str | None = None
    correlation_id: str | None = None
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("action", "scope", "correlation_id"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.details:
            out["details"] = list(self.details)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorInfo:
        return cls(
            code=str(data["code"]),
            message=str(data.get("message", "")),
            action=data.get("action"),
            scope=data.get("scope"),
            correlation_id=data.get("correlation_id"),
            details=tuple(data.get("details", ())),
        )


class ProvisioningError(Exception):
    """Base of the errors the app expects and knows how to handle."""


class TransientError(ProvisioningError):
    """Azure or storage hiccuped (429, 5xx, timeout, dropped connection): try again later."""

    def __init__(self, info: ErrorInfo, retry_after: float | None = None) -> None:
        super().__init__(f"{info.code}: {info.message}")
        self.info = info
        self.retry_after = retry_after


class TerminalError(ProvisioningError):
    """Retrying cannot help (bad input, denied, conflicting resource): record and stop."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(f"{info.code}: {info.message}")
        self.info = info


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One bad field of a request: a JSON path such as ``cluster.node_count`` and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


# An error text is stored in the status record, archived and logged: a body with hundreds of
# bad keys must not turn into a 300 KB error. The first problems are named, the rest counted.
MAX_PROBLEMS_SHOWN = 20
MAX_ERROR_BYTES = 4 * 1024
MAX_PROBLEM_BYTES = 200


class InvalidRequest(TerminalError):
    """The message is malformed or breaks the contract; names its bad fields (the first
    ``MAX_PROBLEMS_SHOWN``, and how many more) in at most ``MAX_ERROR_BYTES``."""

    def __init__(self, problems: list[FieldProblem], request_id: str | None = None) -> None:
        self.problems = tuple(problems)
        self.request_id = request_id
        shown = [capped(str(p), MAX_PROBLEM_BYTES) for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        more = len(self.problems) - len(shown)
        summary = "; ".join(shown) + (f"; and {more} more problems" if more else "")
        super().__init__(
            ErrorInfo(
                code="InvalidRequest",
                message=capped(f"the request is invalid: {summary}", MAX_ERROR_BYTES),
                details=tuple(shown) + ((f"and {more} more problems",) if more else ()),
            )
        )


# Statuses and ARM codes that say "try again later" (ARM's throttling, gateway and conflict codes).
TRANSIENT_STATUSES = frozenset({408, 429})  # and every 5xx
TRANSIENT_CODES = frozenset(
    {
        "AnotherOperationInProgress",
        "RetryableError",
        "TooManyRequests",
        "ServerTimeout",
        # Only after the app has asked for the registration, which takes minutes to complete.
        "MissingSubscriptionRegistration",
    }
)


class ArmCallFailed(ProvisioningError):
    """ARM answered with an error. Not yet judged: the caller may handle some codes itself."""

    def __init__(
        self, status: int | None, info: ErrorInfo, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {info.code}: {info.message}")
        self.status = status
        self.info = info
        self.retry_after = retry_after

    @property
    def code(self) -> str:
        return self.info.code

    def judged(self) -> TransientError | TerminalError:
        """Transient for throttling, 5xx, timeouts and dropped connections; terminal otherwise."""
        if self.status is None or self.status in TRANSIENT_STATUSES or self.status >= 500:
            return TransientError(self.info, self.retry_after)
        if self.info.code in TRANSIENT_CODES:
            return TransientError(self.info, self.retry_after)
        return TerminalError(self.info)
