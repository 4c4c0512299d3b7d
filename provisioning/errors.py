"""The one error taxonomy of the app: every failure is transient, terminal, or a bug.

    Exception
     ├── ProvisioningError
     │    ├── TransientError     retry later, after ``retry_after`` seconds if Azure said so
     │    ├── TerminalError      record ``failed`` with an ARM-style error and stop
     │    │    └── InvalidRequest    the message itself is malformed or disallowed
     │    ├── ArmCallFailed      ARM answered with an error, not yet judged: ``handling`` says
     │    │                      what it means (``classify``), ``as_error()`` turns it into a
     │    │                      TransientError or TerminalError where the step cannot act on it
     │    └── StorageUnavailable Table or Queue storage failed in a way that passes (5xx,
     │                           ServerBusy, timeout, dropped connection, no token): the message
     │                           comes back later (``deferral``); the step keeps its budget
     └── ValueError
          └── SettingsError      (``settings``) an app setting is missing or malformed: start-up

Anything else raised inside an invocation is a bug: it propagates, the Functions host retries
the message and, after ``maxDequeueCount`` deliveries, moves it to the poison queue.

``classify`` is the one place that knows what an ARM error means to the app: the error code
first, then the HTTP status, as Azure Service Operator's ``ClassifyCloudError`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
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


class StorageUnavailable(ProvisioningError):
    """Table or Queue storage failed transiently (``storage`` classifies the SDK's errors).

    Not a TransientError: that one is ARM's, spends the step's transient budget and is retried
    by a re-enqueue, which needs the storage that just failed. This one defers the message.
    """

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(f"{info.code}: {info.message}")
        self.info = info


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
MAX_PROBLEM_BYTES = 1024  # room for a tag name at ARM's 512 characters, in its field path


def _shown_problems(problems: tuple[FieldProblem, ...]) -> list[str]:
    """The first problems, each capped, as many as fit the error's budget (at least one)."""
    shown: list[str] = []
    budget = MAX_ERROR_BYTES - 128  # the lead-in and "and N more problems"
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        text = capped(str(problem), MAX_PROBLEM_BYTES)
        budget -= len(text.encode()) + 2
        if budget < 0 and shown:
            break
        shown.append(text)
    return shown


class InvalidRequest(TerminalError):
    """The message is malformed or breaks the contract; names its bad fields (the first
    ``MAX_PROBLEMS_SHOWN`` that fit in ``MAX_ERROR_BYTES``, and how many more)."""

    def __init__(self, problems: list[FieldProblem], request_id: str | None = None) -> None:
        self.problems = tuple(problems)
        self.request_id = request_id
        shown = _shown_problems(self.problems)
        more = len(self.problems) - len(shown)
        summary = "; ".join(shown) + (f"; and {more} more problems" if more else "")
        super().__init__(
            ErrorInfo(
                code="InvalidRequest",
                message=capped(f"the request is invalid: {summary}", MAX_ERROR_BYTES),
                details=tuple(shown) + ((f"and {more} more problems",) if more else ()),
            )
        )


class Handling(StrEnum):
    """What the reconcile step does about an ARM failure."""

    TRANSIENT = "transient"  # try again later (Retry-After wins over the backoff)
    TERMINAL = "terminal"  # record failed and stop
    BACK_TO_VISIBILITY = "back_to_visibility"  # AKS cannot see the group yet: check it again
    EXISTING_CLUSTER = "existing_cluster"  # the create-only PUT found a cluster: ours or not?
    CLUSTER_BUSY = "cluster_busy"  # another operation runs on the cluster: our own create?
    REGISTER_PROVIDER = "register_provider"  # Microsoft.ContainerService is not registered
    GROUP_BEING_DELETED = "group_being_deleted"  # wait the deletion out, then create anew


# ARM error codes, looked at first: they say more than the HTTP status they come with.
CODE_HANDLING: Mapping[str, Handling] = {
    "AnotherOperationInProgress": Handling.TRANSIENT,
    "RetryableError": Handling.TRANSIENT,
    "TooManyRequests": Handling.TRANSIENT,
    "ServerTimeout": Handling.TRANSIENT,
    "MissingSubscriptionRegistration": Handling.REGISTER_PROVIDER,
    "ResourceGroupNotFound": Handling.BACK_TO_VISIBILITY,
    "ResourceGroupBeingDeleted": Handling.GROUP_BEING_DELETED,
    "OperationNotAllowed": Handling.CLUSTER_BUSY,
    # ARM's token-bucket throttling: honour Retry-After through the queue.
    "SubscriptionRequestsThrottled": Handling.TRANSIENT,
    # The SDK's api-version is not offered in the region: no retry can help (see ``explained``).
    "NoRegisteredProviderFound": Handling.TERMINAL,
}
# Then the status: throttling, timeouts and every 5xx are transient (no status: no answer came).
TRANSIENT_STATUSES = frozenset({408, 429})
PRECONDITION_FAILED = 412  # what a create-only PUT (If-None-Match: *) of an existing resource gets


def classify(code: str, status: int | None = None) -> Handling:
    """What an ARM failure means to the app: by its error code first, then its HTTP status."""
    handling = CODE_HANDLING.get(code)
    if handling is not None:
        return handling
    if status == PRECONDITION_FAILED:
        return Handling.EXISTING_CLUSTER
    return _by_status(status)


def _by_status(status: int | None) -> Handling:
    if status is None or status in TRANSIENT_STATUSES or status >= 500:
        return Handling.TRANSIENT
    return Handling.TERMINAL


class ArmCallFailed(ProvisioningError):
    """ARM answered with an error (or did not answer). ``handling`` says what it means."""

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

    @property
    def handling(self) -> Handling:
        return classify(self.info.code, self.status)

    def as_error(self) -> TransientError | TerminalError:
        """The taxonomy's error for a failure the step does not act on in a specific way.

        Transient when classified so, or for a provider registration (which takes minutes after
        the app asked for it), or when the status alone says so; terminal otherwise.
        """
        handling = self.handling
        if handling in (Handling.TRANSIENT, Handling.REGISTER_PROVIDER):
            return TransientError(self.info, self.retry_after)
        if _by_status(self.status) is Handling.TRANSIENT:
            return TransientError(self.info, self.retry_after)
        return TerminalError(explained(self.info))


def _no_registered_provider(message: str) -> str:
    found = re.search(r"location '([^']*)' and API version '([^']*)'", message)
    location, version = found.groups() if found else ("(unknown)", "(unknown)")
    return (
        f"AKS api-version {version}, the one this app's azure-mgmt-containerservice sends, is "
        f"not offered in region {location}. To fix: create the cluster in a region that offers "
        f"it, or remove {location} from ALLOWED_LOCATIONS; or pin azure-mgmt-containerservice to "
        f"a release whose api-version {location} offers. See what the region offers with `az "
        'provider show --namespace Microsoft.ContainerService --query "resourceTypes[?'
        "resourceType=='managedClusters'].{locations:locations,apiVersions:apiVersions}\"`; "
        "`python -m provisioning preflight` checks every allowed region. ARM said: " + message
    )


# Failures whose ARM text alone does not say what to do: the message the status record keeps.
_EXPLANATIONS: Mapping[str, Callable[[str], str]] = {
    "NoRegisteredProviderFound": _no_registered_provider,
}


def explained(info: ErrorInfo) -> ErrorInfo:
    """ARM's error, with the cause and the fix in front where the app knows them."""
    explain = _EXPLANATIONS.get(info.code)
    if explain is None:
        return info
    return replace(info, message=capped(explain(info.message), MAX_ERROR_BYTES))


def policy_identifiers(error: Mapping[str, Any]) -> tuple[str, ...]:
    """The policies behind a ``RequestDisallowedByPolicy``, one line each: from the error's
    ``additionalInfo`` (``PolicyViolation``), else from the message's "Policy identifiers"."""
    lines = []
    for item in error.get("additionalInfo") or ():
        if not isinstance(item, Mapping) or item.get("type") != "PolicyViolation":
            continue
        info = item.get("info")
        if not isinstance(info, Mapping):
            continue
        lines.append(
            f"policy assignment '{info.get('policyAssignmentDisplayName') or ''}' "
            f"({info.get('policyAssignmentId')}), definition "
            f"'{info.get('policyDefinitionDisplayName') or ''}' "
            f"({info.get('policyDefinitionId')}), effect {info.get('policyDefinitionEffect')}"
        )
    if lines:
        return tuple(lines)
    found = re.search(r"Policy identifiers: '(\[.*\])'", str(error.get("message", "")))
    try:
        identifiers = json.loads(found.group(1)) if found else []
    except ValueError:
        return ()
    return tuple(
        f"policy assignment '{i.get('policyAssignment', {}).get('name')}' "
        f"({i.get('policyAssignment', {}).get('id')}), definition "
        f"'{i.get('policyDefinition', {}).get('name')}' ({i.get('policyDefinition', {}).get('id')})"
        for i in identifiers
        if isinstance(i, Mapping)
    )
