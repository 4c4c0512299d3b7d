"""What the app reads back from ARM and storage, as plain data: the clients' answers, the decisions'
input.

A neutral module: the SDK adapter (``arm``) builds these, the pure rules (``decisions``) read
them, and neither needs the other to do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioning.errors import ErrorInfo


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """Where a managed cluster is (or is to be): subscription, resource group, name."""

    subscription_id: str
    resource_group: str
    name: str


@dataclass(frozen=True, slots=True)
class GroupView:
    exists: bool
    state: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None
    managed_by: str | None = None  # ARM's managedBy: an AKS node group, a managed app


@dataclass(frozen=True, slots=True)
class ClusterView:
    id: str
    state: str | None
    tags: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CreateStarted:
    cluster_id: str
    operation_url: str | None
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class OperationView:
    status: str
    error: ErrorInfo | None
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class ProviderView:
    """A resource provider as the subscription sees it: state and ``resourceTypes`` (wire keys)."""

    registration_state: str | None
    resource_types: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """One in-flight slot of a requester (see ``inflight``): which request holds it, for which
    of its runs (1 for a row written before runs were recorded), since when."""

    number: int
    request_id: str
    taken_at: datetime
    etag: str | None = None
    run: int = 1


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a requester's request ids, newest first, and where the next page starts."""

    request_ids: tuple[str, ...]
    continuation: str | None
