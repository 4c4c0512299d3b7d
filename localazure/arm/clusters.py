"""AKS managed clusters and their async operations, as the AKS resource provider answers."""

from __future__ import annotations

import copy
import hashlib
import uuid
from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
from localazure.arm.catalog import (
    AKS_API_VERSIONS,
    AKS_OPERATIONS_API_VERSION,
    DEFAULT_KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
    declares_conditional_headers,
    kubernetes_version_offered,
)
from localazure.arm.compute import (
    DEFAULT_VCPU_LIMIT,
    SIZES_BY_NAME,
    TOTAL,
    pools_vcpus,
    vcpus_in_use,
)
from localazure.arm.groups import writable_group
from localazure.arm.providers import offered
from localazure.arm.scenario import Countdown
from localazure.arm.store import (
    Cluster,
    ClusterKey,
    Operation,
    Store,
    normalize_location,
    now_iso,
    set_cluster_state,
)
from localazure.arm.wire import Exchange
from localazure.tokens import TENANT_ID

CLUSTER_TYPE = "Microsoft.ContainerService/ManagedClusters"
# The operations endpoints answer AKS's own api-version and, like ARM, the resource type's.
OPERATION_API_VERSIONS = (AKS_OPERATIONS_API_VERSION, *AKS_API_VERSIONS)
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202509.23.0"
# Fields AKS accepts on input but never returns.
SECRET_FIELDS = (("windowsProfile", "adminPassword"), ("servicePrincipalProfile", "secret"))


def _stable_uuid(*parts: str) -> str:
    # Stable across GETs so principal ids look like one identity, not a new one per read.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts).lower()))


def _agent_pool(request_pool: dict[str, Any], version: str, state: str) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "name": "nodepool1",
        "count": 3,
        "vmSize": "Standard_DS2_v2",
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": 110,
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": False,
        "mode": "System",
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "enableNodePublicIP": False,
        "enableFIPS": False,
        "nodeImageVersion": NODE_IMAGE,
        "upgradeSettings": {"maxSurge": "10%"},
    }
    pool.update(copy.deepcopy(request_pool))
    pool["orchestratorVersion"] = version
    pool["currentOrchestratorVersion"] = version
    pool["provisioningState"] = state
    pool["powerState"] = {"code": "Running"}
    return pool


def _network_profile(requested: dict[str, Any], node_group: str, sub: str) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "networkPlugin": "kubenet",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
        "outboundType": "loadBalancer",
        "loadBalancerSku": "standard",
        "podCidrs": ["10.244.0.0/16"],
        "serviceCidrs": ["10.0.0.0/16"],
        "ipFamilies": ["IPv4"],
        "loadBalancerProfile": {"managedOutboundIPs": {"count": 1}},
    }
    profile.update(copy.deepcopy(requested))
    lb = profile.setdefault("loadBalancerProfile", {})
    count = int(lb.get("managedOutboundIPs", {}).get("count", 1))
    lb.setdefault("allocatedOutboundPorts", 0)
    lb.setdefault("idleTimeoutInMinutes", 30)
    lb["effectiveOutboundIPs"] = [
        {
            "id": f"/subscriptions/{sub}/resourceGroups/{node_group}/providers/"
            f"Microsoft.Network/publicIPAddresses/{_stable_uuid(node_group, str(i))}"
        }
        for i in range(count)
    ]
    return profile


def _identity(requested: dict[str, Any] | None, cluster_id: str) -> dict[str, Any]:
    if requested and requested.get("type") == "UserAssigned":
        identities = requested.get("userAssignedIdentities") or {}
        return {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                rid: {
                    "principalId": _stable_uuid(rid, "principal"),
                    "clientId": _stable_uuid(rid, "client"),
                }
                for rid in identities
            },
        }
    return {
        "type": "SystemAssigned",
        "principalId": _stable_uuid(cluster_id, "principal"),
        "tenantId": TENANT_ID,
    }


def build_cluster_body(
    sub: str, group: str, name: str, request: dict[str, Any], state: str
) -> dict[str, Any]:
    """A managed cluster as AKS returns it, shaped after the REST spec's create example."""
    location = normalize_location(str(request["location"]))
    props_in: dict[str, Any] = copy.deepcopy(request.get("properties") or {})
    for section, secret in SECRET_FIELDS:
        if isinstance(props_in.get(section), dict):
            props_in[section].pop(secret, None)
    requested = str(props_in.get("kubernetesVersion") or DEFAULT_KUBERNETES_VERSION)
    version = kubernetes_version_offered(requested, KUBERNETES_VERSIONS) or requested
    cluster_id = (
        f"/subscriptions/{sub}/resourcegroups/{group}/providers/"
        f"Microsoft.ContainerService/managedClusters/{name}"
    )
    dns_prefix = props_in.get("dnsPrefix") or f"{name}-{group}-{sub[:6]}"
    suffix = hashlib.sha256(cluster_id.lower().encode()).hexdigest()[:8]
    node_group = props_in.get("nodeResourceGroup") or f"MC_{group}_{name}_{location}"
    pools = props_in.get("agentPoolProfiles") or [{}]
    properties: dict[str, Any] = dict(props_in)
    properties.update(
        {
            "provisioningState": state,
            "powerState": {"code": "Running"},
            "maxAgentPools": 100,
            "kubernetesVersion": version,
            "currentKubernetesVersion": version,
            "dnsPrefix": dns_prefix,
            "fqdn": f"{dns_prefix}-{suffix}.hcp.{location}.azmk8s.io",
            "azurePortalFQDN": f"{dns_prefix}-{suffix}.portal.hcp.{location}.azmk8s.io",
            "agentPoolProfiles": [_agent_pool(p, version, state) for p in pools],
            "nodeResourceGroup": node_group,
            "enableRBAC": props_in.get("enableRBAC", True),
            "supportPlan": "KubernetesOfficial",
            "networkProfile": _network_profile(
                props_in.get("networkProfile") or {}, node_group, sub
            ),
            "identityProfile": {
                "kubeletidentity": {
                    "resourceId": f"/subscriptions/{sub}/resourcegroups/{node_group}/providers/"
                    f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
                    "clientId": _stable_uuid(cluster_id, "kubelet-client"),
                    "objectId": _stable_uuid(cluster_id, "kubelet-object"),
                }
            },
            "oidcIssuerProfile": {"enabled": False},
        }
    )
    body: dict[str, Any] = {
        "id": cluster_id,
        "location": location,
        "name": name,
        "type": CLUSTER_TYPE,
        "sku": request.get("sku") or {"name": "Base", "tier": "Free"},
        "identity": _identity(request.get("identity"), cluster_id),
        "properties": properties,
    }
    if request.get("tags"):
        body["tags"] = dict(request["tags"])
    return body


def operation_url(ex: Exchange, op: Operation, kind: str = "operations") -> str:
    # AKS's own operations api-version, whatever the PUT used (Azure CLI recordings).
    return (
        f"{ex.url}/subscriptions/{op.subscription}/providers/Microsoft.ContainerService/"
        f"locations/{op.location}/{kind}/{op.id}?api-version={AKS_OPERATIONS_API_VERSION}"
    )


def require_registered(store: Store, sub: str) -> None:
    # ARM refuses every call routed to a provider the subscription has not registered.
    if store.registration_state(sub, observe=False) != "Registered":
        raise errors.missing_registration()


def require_offered(store: Store, location: str, version: str, resource_type: str) -> None:
    """ARM routes by region: an api-version the region does not offer finds no provider."""
    offer = store.state.aks_offer
    region = normalize_location(location)
    if version in offer.get(region, ()):
        return
    regions, versions = offered(offer)
    raise errors.no_registered_provider(region, version, resource_type, sorted(versions), regions)


def handle_cluster(store: Store, ex: Exchange, sub: str, group: str, name: str) -> Response:
    version = ex.require_api_version(AKS_API_VERSIONS, CLUSTER_TYPE)
    if ex.method == "GET":
        return _get_cluster(store, ex, version, sub, group, name)
    if ex.method == "PUT":
        return _put_cluster(store, ex, version, sub, group, name)
    raise errors.method_not_allowed(ex.method)


def _get_cluster(
    store: Store, ex: Exchange, version: str, sub: str, group_name: str, name: str
) -> Response:
    group = store.group(sub, group_name)
    if group is not None:  # a GET is routed by its resource group's region
        require_offered(store, group.location, version, "managedClusters")
    require_registered(store, sub)
    if group is None:
        raise errors.resource_group_not_found(group_name)
    cluster = store.cluster((sub.lower(), group_name.lower(), name.lower()), observe=True)
    if cluster is None:
        raise errors.resource_not_found(
            "Microsoft.ContainerService/managedClusters", name, group_name
        )
    return ex.respond(200, cluster.body)


def _put_cluster(
    store: Store, ex: Exchange, version: str, sub: str, group_name: str, name: str
) -> Response:
    request = ex.require_json_object()
    if not isinstance(request.get("location"), str) or not request["location"]:
        raise errors.location_required()
    location = normalize_location(request["location"])
    require_offered(store, location, version, "managedClusters")
    require_registered(store, sub)
    group = writable_group(store, sub, group_name)
    key: ClusterKey = (sub.lower(), group_name.lower(), name.lower())
    existing = store.cluster(key)
    # Only api-versions whose spec declares If-None-Match honour it; older ones ignore it.
    create_only = ex.request.headers.get("If-None-Match", "").strip() == "*"
    if existing is not None and create_only and declares_conditional_headers(version):
        raise errors.precondition_failed(name)
    if existing is not None:
        running = store.running_operation(existing)
        if running is not None:
            raise errors.operation_not_allowed(name, running.id, running.started)
    # The AKS provider may not see a group ARM has just created.
    rp_blind = group.hidden_from_aks()
    if rp_blind and group.aks_mode == "immediate":
        raise errors.resource_group_not_found(group_name)
    validate_cluster(store, sub, location, request, existing)

    state = "Creating" if existing is None else "Updating"
    body = build_cluster_body(sub, group_name, name, request, state)
    if existing is not None:
        body["id"] = existing.body["id"]
    op = _start_operation(store, key, sub, body["location"])
    if rp_blind:
        op.outcome = "Failed"
        op.error_code = "ResourceGroupNotFound"
        op.error_message = f"Resource group '{group_name}' could not be found."
    cluster = Cluster(sub, group_name, name, body["location"], body, op.id)
    store.state.clusters[key] = cluster
    set_cluster_state(body, state)
    # AKS's 201/200 carries Azure-AsyncOperation only: no Location, no Retry-After.
    headers = {"Azure-AsyncOperation": operation_url(ex, op)}
    return ex.respond(201 if existing is None else 200, body, headers)


def validate_cluster(
    store: Store, sub: str, location: str, request: dict[str, Any], existing: Cluster | None
) -> None:
    """AKS's synchronous 400s: what it refuses before starting any operation."""
    properties = request.get("properties") or {}
    pools = [p for p in properties.get("agentPoolProfiles") or [] if isinstance(p, dict)]
    # A pool without a mode is the cluster's first, system pool.
    system = [p for p in pools if str(p.get("mode", "System")).lower() == "system"]
    if not system:
        raise errors.must_define_system_pool()
    requested = properties.get("kubernetesVersion")
    if requested:
        offered_versions = store.state.kubernetes_offer.get(location, KUBERNETES_VERSIONS)
        if kubernetes_version_offered(str(requested), offered_versions) is None:
            raise errors.kubernetes_version_not_supported(str(requested))
    for pool in pools:
        pool_name = str(pool.get("name", "nodepool1"))
        size_name = str(pool.get("vmSize", "Standard_DS2_v2")).lower()
        size = SIZES_BY_NAME.get(size_name)
        # The same restriction the resource SKUs API lists (NotAvailableForSubscription).
        if size is None or (location, size_name) in store.state.restricted_sizes:
            raise errors.vm_size_not_allowed(pool_name, location)
        if pool in system and (size.vcpus < 2 or size.memory_gb < 4):
            raise errors.system_pool_sku_too_low(pool_name)
    quotas = store.state.quotas.get(location, {})
    in_use = vcpus_in_use(store, sub, location)
    own = pools_vcpus(existing.body) if existing is not None else {}  # an update replaces them
    for family, vcpus in pools_vcpus({"properties": properties}).items():
        if family == TOTAL:
            continue
        limit, used_elsewhere = quotas.get(family, (DEFAULT_VCPU_LIMIT, 0))
        held = used_elsewhere + in_use.get(family, 0) - own.get(family, 0)
        remaining = max(limit - held, 0)
        if vcpus > remaining:
            raise errors.insufficient_vcpu_quota(vcpus, remaining, family, location)


def _start_operation(store: Store, key: ClusterKey, sub: str, location: str) -> Operation:
    plan = store.plan_for(key)
    outcome = plan.outcome
    if outcome != "Succeeded" and plan.times is not None:
        if plan.times > 0:
            plan.times -= 1
        else:
            outcome = "Succeeded"
    op = Operation(
        id=str(uuid.uuid4()),
        subscription=sub,
        location=location,
        cluster=key,
        started=now_iso(),
        progress=Countdown.start(plan.polls, plan.seconds),
        outcome=outcome,
        error_code=plan.error_code if outcome == "Failed" else "",
        error_message=plan.error_message if outcome == "Failed" else "",
    )
    store.state.operations[op.id.lower()] = op
    return op


def _find_operation(store: Store, sub: str, op_id: str) -> Operation:
    op = store.state.operations.get(op_id.lower())
    if op is None or op.subscription.lower() != sub.lower():
        raise errors.ArmError(
            404, "NotFound", f"Operation '{op_id}' was not found in subscription '{sub}'."
        )
    return op


def operation_body(op: Operation) -> dict[str, Any]:
    # AKS's operation status has no id; its name is the operation id with the first three GUID
    # fields byte-swapped (Azure CLI recordings), a .NET Guid written the other way round.
    body: dict[str, Any] = {
        "name": str(uuid.UUID(bytes=uuid.UUID(op.id).bytes_le)),
        "status": "InProgress" if op.ended is None else op.outcome,
        "startTime": op.started,
    }
    if op.ended is not None:
        body["endTime"] = op.ended
        if op.outcome == "Failed":
            body["error"] = {"code": op.error_code, "message": op.error_message}
    return body


def _settled_operation(
    store: Store, ex: Exchange, sub: str, op_id: str, kind: str, *, observe: bool
) -> Operation:
    """The operation a GET of ``locations/<kind>/{id}`` asks about, brought up to date."""
    ex.require_api_version(OPERATION_API_VERSIONS, f"locations/{kind}")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    op = _find_operation(store, sub, op_id)
    store.settle(op, observe=observe)
    return op


def handle_operation(store: Store, ex: Exchange, sub: str, op_id: str) -> Response:
    """``.../locations/{loc}/operations/{id}``: each GET counts as one poll."""
    op = _settled_operation(store, ex, sub, op_id, "operations", observe=True)
    return ex.respond(200, operation_body(op))


def handle_operation_result(store: Store, ex: Exchange, sub: str, op_id: str) -> Response:
    """``.../locations/{loc}/operationresults/{id}``: 202 until done, then the result."""
    op = _settled_operation(store, ex, sub, op_id, "operationresults", observe=False)
    if op.ended is None:
        location = operation_url(ex, op, "operationresults")
        headers = ex.retry_after(store.state.retry_after, {"Location": location})
        return ex.respond(202, None, headers)
    if op.outcome == "Failed":
        status = 404 if op.error_code == "ResourceGroupNotFound" else 400
        raise errors.ArmError(status, op.error_code, op.error_message)
    cluster = store.state.clusters.get(op.cluster)
    return ex.respond(200, cluster.body if cluster else None)
