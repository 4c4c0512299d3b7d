"""What the app reads back from ARM, as plain data: the ARM client's answers, the decisions' input.

A neutral module: the SDK adapter (``arm``) builds these, the pure rules (``decisions``) read
them, and neither needs the other to do so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
