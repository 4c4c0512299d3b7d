"""Azure Resource Manager I/O: resource groups, provider registration, AKS create and its watch.

Clients are built once per process (and per subscription), with bounded retries and without
azure-mgmt-core's auto-registration policy, whose sleep loop would block an invocation for
minutes. Every ARM error leaves this module as ``ArmCallFailed`` carrying ARM's code, message
and correlation id, for ``errors`` and the step to judge.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline import policies as core_policies
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy
from azure.mgmt.resource.resources import ResourceManagementClient

from provisioning.errors import ArmCallFailed, ErrorInfo, policy_identifiers
from provisioning.settings import Settings
from provisioning.views import (
    ClusterRef,
    ClusterView,
    CreateStarted,
    GroupView,
    OperationView,
    ProviderView,
)

CONTAINER_SERVICE = "Microsoft.ContainerService"
# Azure's own retry would sleep for whatever Retry-After says; past this we hand the wait to the
# queue instead, so no invocation sleeps for more than a few seconds.
MAX_IN_PROCESS_RETRY_AFTER = 2.0
T = TypeVar("T")


class BoundedRetryPolicy(core_policies.RetryPolicy):  # type: ignore[type-arg]
    """Retries quick hiccups once; leaves long Retry-After waits to the queue."""

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > MAX_IN_PROCESS_RETRY_AFTER:
            return False
        return super().is_retry(settings, response)


class _HeadersOnly:
    """All of a response azure-core's Retry-After reading looks at."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers


_AZURE_RETRY = core_policies.RetryPolicy()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds Azure asked us to wait, read as azure-core reads them, or None.

    azure-core takes ``Retry-After`` (seconds, or an HTTP-date) first, then ``retry-after-ms``
    and ``x-ms-retry-after-ms``. A malformed or non-finite value is no reason to crash or to
    wait forever: it is ignored.
    """
    response: Any = PipelineResponse(None, _HeadersOnly(headers), None)  # type: ignore[arg-type]
    try:
        seconds = _AZURE_RETRY.get_retry_after(response)
    except (ValueError, OverflowError):
        return None
    return seconds if seconds is not None and math.isfinite(seconds) else None


def _failure(exc: AzureError) -> ArmCallFailed:
    """ARM's error as plain data: code, message, denied action and scope, correlation id."""
    response = getattr(exc, "response", None)
    if not isinstance(exc, HttpResponseError) or response is None:
        info = ErrorInfo(code=type(exc).__name__, message=str(exc).splitlines()[0][:500])
        return ArmCallFailed(None, info)
    headers = {k.lower(): v for k, v in response.headers.items()}
    code, message = "HttpError", exc.reason or ""
    error: dict[str, Any] = {}
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
    except ValueError:
        pass
    details = policy_identifiers(error) if code == "RequestDisallowedByPolicy" else ()
    action = scope = None
    if "action '" in message and "over scope '" in message:
        action = message.split("action '", 1)[1].split("'", 1)[0]
        scope = message.split("over scope '", 1)[1].split("'", 1)[0]
    info = ErrorInfo(
        code=code,
        message=message[:1000],
        action=action,
        scope=scope,
        correlation_id=headers.get("x-ms-correlation-request-id"),
        details=details,
    )
    return ArmCallFailed(response.status_code, info, retry_after(headers))


@contextmanager
def _arm_errors() -> Iterator[None]:
    try:
        yield
    except AzureError as exc:
        raise _failure(exc) from exc


class Arm:
    """The few ARM calls the app makes, over SDK clients built once per subscription."""

    def __init__(self, settings: Settings, credential: TokenCredential) -> None:
        self._settings = settings
        self._credential = credential
        self._lock = threading.Lock()
        self._resources: dict[str, ResourceManagementClient] = {}
        self._clusters: dict[str, ContainerServiceClient] = {}

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self._settings.arm_endpoint,
            "credential_scopes": [self._settings.arm_scope],
            "policies": self._policies(),
            "connection_timeout": 5,
            "read_timeout": 30,
        }

    def _policies(self) -> list[Any]:
        # The SDK's default list minus ARMAutoResourceProviderRegistrationPolicy (see module doc).
        return [
            core_policies.RequestIdPolicy(),
            core_policies.HeadersPolicy(),
            core_policies.UserAgentPolicy(sdk_moniker="aks-provisioner"),
            core_policies.ProxyPolicy(),
            core_policies.ContentDecodePolicy(),
            core_policies.RedirectPolicy(),
            BoundedRetryPolicy(retry_total=2, retry_backoff_factor=0.5, retry_backoff_max=2),
            ARMChallengeAuthenticationPolicy(self._credential, self._settings.arm_scope),
            core_policies.CustomHookPolicy(),
            ARMHttpLoggingPolicy(),
            core_policies.DistributedTracingPolicy(),
            core_policies.SensitiveHeaderCleanupPolicy(),
        ]

    def _cached(
        self, cache: dict[str, T], client_type: Callable[..., T], subscription_id: str
    ) -> T:
        """The subscription's client of ``client_type``, built on first use."""
        with self._lock:
            client = cache.get(subscription_id)
            if client is None:
                client = client_type(self._credential, subscription_id, **self._client_kwargs())
                cache[subscription_id] = client
            return client

    def _rm(self, subscription_id: str) -> ResourceManagementClient:
        return self._cached(self._resources, ResourceManagementClient, subscription_id)

    def _aks(self, subscription_id: str) -> ContainerServiceClient:
        return self._cached(self._clusters, ContainerServiceClient, subscription_id)

    def get_group(self, subscription_id: str, name: str) -> GroupView:
        with _arm_errors():
            try:
                group = self._rm(subscription_id).resource_groups.get(name)
            except HttpResponseError as exc:
                if exc.status_code == 404:
                    return GroupView(exists=False)
                raise
        state = group.properties.provisioning_state if group.properties else None
        return GroupView(
            exists=True,
            state=state,
            tags=dict(group.tags or {}),
            id=group.id,
            managed_by=group.managed_by or None,
        )

    def create_group(
        self, subscription_id: str, name: str, location: str, tags: Mapping[str, str]
    ) -> GroupView:
        with _arm_errors():
            group = self._rm(subscription_id).resource_groups.create_or_update(
                name, {"location": location, "tags": dict(tags)}
            )
        state = group.properties.provisioning_state if group.properties else None
        return GroupView(exists=True, state=state, tags=dict(group.tags or {}), id=group.id)

    def register_provider(self, subscription_id: str) -> None:
        with _arm_errors():
            self._rm(subscription_id).providers.register(CONTAINER_SERVICE)

    def start_cluster_create(
        self, ref: ClusterRef, body: dict[str, Any], *, create_only: bool
    ) -> CreateStarted:
        """PUT the cluster and return at once; ``create_only`` sends ``If-None-Match: *``."""
        seen: list[PipelineResponse[Any, Any]] = []
        extra: dict[str, Any] = (
            {"match_condition": MatchConditions.IfMissing} if create_only else {}
        )
        with _arm_errors():
            self._aks(ref.subscription_id).managed_clusters.begin_create_or_update(
                ref.resource_group,
                ref.name,
                ManagedCluster(body),
                polling=False,
                raw_response_hook=seen.append,
                **extra,
            )
        response = seen[-1].http_response
        headers = {k.lower(): v for k, v in response.headers.items()}
        cluster_id = str(response.json().get("id", ""))
        return CreateStarted(
            cluster_id=cluster_id,
            operation_url=self.trusted_url(headers.get("azure-asyncoperation")),
            retry_after=retry_after(headers),
        )

    def get_cluster(self, ref: ClusterRef) -> ClusterView | None:
        with _arm_errors():
            try:
                clusters = self._aks(ref.subscription_id).managed_clusters
                cluster = clusters.get(ref.resource_group, ref.name)
            except HttpResponseError as exc:
                if exc.status_code == 404 and _code(exc) == "ResourceNotFound":
                    return None
                raise
        state = cluster.properties.provisioning_state if cluster.properties else None
        return ClusterView(id=str(cluster.id), state=state, tags=dict(cluster.tags or {}))

    def get_operation(self, subscription_id: str, url: str) -> OperationView:
        """One GET of an ``Azure-AsyncOperation`` URL, through the same authenticated pipeline."""
        if self.trusted_url(url) is None:
            raise ValueError(f"refusing to send a token to {urlsplit(url).netloc}")
        with _arm_errors():
            response = self._aks(subscription_id).send_request(HttpRequest("GET", url))
            response.raise_for_status()
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        info = None
        if isinstance(error, dict):
            info = ErrorInfo(code=str(error.get("code", "")), message=str(error.get("message", "")))
        headers = {k.lower(): v for k, v in response.headers.items()}
        return OperationView(str(body.get("status", "")), info, retry_after(headers))

    def provider(self, subscription_id: str) -> ProviderView:
        """``Microsoft.ContainerService`` as the subscription sees it (read-only)."""
        with _arm_errors():
            provider = self._rm(subscription_id).providers.get(CONTAINER_SERVICE)
        types = tuple(dict(t) for t in provider.get("resourceTypes") or ())
        return ProviderView(provider.get("registrationState"), types)

    def aks_api_version(self, subscription_id: str) -> str:
        """The api-version the pinned AKS SDK sends (the generated client's configuration)."""
        return str(self._aks(subscription_id)._config.api_version)

    def read_list(self, subscription_id: str, path: str) -> list[dict[str, Any]]:
        """GET an ARM list (``path`` with its query) through the app's pipeline, every page."""
        items: list[dict[str, Any]] = []
        url: str | None = path
        with _arm_errors():
            while url:
                response = self._rm(subscription_id).send_request(HttpRequest("GET", url))
                response.raise_for_status()
                body = response.json()
                items.extend(v for v in body.get("value") or () if isinstance(v, dict))
                url = self.trusted_url(body.get("nextLink"))
        return items

    def trusted_url(self, url: str | None) -> str | None:
        """``url`` if it is on our ARM endpoint over https, else None: never send it a token."""
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.netloc.lower() != self._settings.arm_host:
            return None
        return url


def _code(exc: HttpResponseError) -> str:
    return exc.error.code if exc.error is not None and exc.error.code else ""
