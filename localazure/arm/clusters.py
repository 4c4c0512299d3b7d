"""AKS managed clusters and their async operations, as the AKS resource provider answers."""

from __future__ import annotations

import copy
import hashlib
import uuid
from typing import Any

from werkzeug.wrappers import Response

from localazure.arm import errors
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
from localazure.arm.wire import AKS_API_VERSIONS, Exchange
from localazure.tokens import TENANT_ID

CLUSTER_TYPE = "Microsoft.ContainerService/ManagedClusters"
KUBERNETES_VERSION = "1.33.3"
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
    version = props_in.get("kubernetesVersion") or KUBERNETES_VERSION
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
    return (
        f"{ex.url}/subscriptions/{op.subscription}/providers/Microsoft.ContainerService/"
        f"locations/{op.location}/{kind}/{op.id}?api-version={ex.api_version()}"
    )


def require_registered(store: Store, sub: str) -> None:
    # ARM refuses every call routed to a provider the subscription has not registered.
    if store.registration_state(sub, observe=False) != "Registered":
        raise errors.missing_registration()


def handle_cluster(store: Store, ex: Exchange, sub: str, group: str, name: str) -> Response:
    ex.require_api_version(AKS_API_VERSIONS, CLUSTER_TYPE)
    require_registered(store, sub)
    if ex.method == "GET":
        return _get_cluster(store, ex, sub, group, name)
    if ex.method == "PUT":
        return _put_cluster(store, ex, sub, group, name)
    raise errors.method_not_allowed(ex.method)


def _get_cluster(store: Store, ex: Exchange, sub: str, group: str, name: str) -> Response:
    if store.group(sub, group) is None:
        raise errors.resource_group_not_found(group)
    cluster = store.cluster((sub.lower(), group.lower(), name.lower()))
    if cluster is None:
        raise errors.resource_not_found("Microsoft.ContainerService/managedClusters", name, group)
    return ex.respond(200, cluster.body)


def _put_cluster(store: Store, ex: Exchange, sub: str, group_name: str, name: str) -> Response:
    request = ex.require_json_object()
    if not isinstance(request.get("location"), str) or not request["location"]:
        raise errors.location_required()
    group = store.group(sub, group_name)
    if group is None:
        raise errors.resource_group_not_found(group_name)
    if group.deleting is not None:
        raise errors.group_being_deleted(group.name)
    key: ClusterKey = (sub.lower(), group_name.lower(), name.lower())
    existing = store.cluster(key)
    if existing is not None and ex.request.headers.get("If-None-Match", "").strip() == "*":
        raise errors.precondition_failed(name)
    if existing is not None:
        running = store.running_operation(existing)
        if running is not None:
            raise errors.operation_not_allowed(name, running.id, running.started)
    # The AKS provider may not see a group ARM has just created.
    rp_blind = group.aks_hidden.observe()
    if rp_blind and group.aks_mode == "immediate":
        raise errors.resource_group_not_found(group_name)

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
    headers = ex.retry_after(
        store.state.retry_after, {"Azure-AsyncOperation": operation_url(ex, op)}
    )
    return ex.respond(201 if existing is None else 200, body, headers)


def _start_operation(store: Store, key: ClusterKey, sub: str, location: str) -> Operation:
    plan = store.plan_for(key)
    outcome = plan.outcome
    if outcome == "Failed" and plan.times is not None:
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
    body: dict[str, Any] = {
        "id": f"/subscriptions/{op.subscription}/providers/Microsoft.ContainerService/"
        f"locations/{op.location}/operations/{op.id}",
        "name": op.id,
        "status": "InProgress" if op.ended is None else op.outcome,
        "startTime": op.started,
    }
    if op.ended is not None:
        body["endTime"] = op.ended
        if op.outcome == "Failed":
            body["error"] = {"code": op.error_code, "message": op.error_message}
    return body


def handle_operation(store: Store, ex: Exchange, sub: str, op_id: str) -> Response:
    """``.../locations/{loc}/operations/{id}``: each GET counts as one poll."""
    ex.require_api_version(AKS_API_VERSIONS, "locations/operations")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    op = _find_operation(store, sub, op_id)
    store.settle(op, observe=True)
    return ex.respond(200, operation_body(op))


def handle_operation_result(store: Store, ex: Exchange, sub: str, op_id: str) -> Response:
    """``.../locations/{loc}/operationresults/{id}``: 202 until done, then the result."""
    ex.require_api_version(AKS_API_VERSIONS, "locations/operationresults")
    if ex.method != "GET":
        raise errors.method_not_allowed(ex.method)
    op = _find_operation(store, sub, op_id)
    store.settle(op, observe=False)
    if op.ended is None:
        location = operation_url(ex, op, "operationresults")
        headers = ex.retry_after(store.state.retry_after, {"Location": location})
        return ex.respond(202, None, headers)
    if op.outcome == "Failed":
        status = 404 if op.error_code == "ResourceGroupNotFound" else 400
        raise errors.ArmError(status, op.error_code, op.error_message)
    cluster = store.state.clusters.get(op.cluster)
    return ex.respond(200, cluster.body if cluster else None)
