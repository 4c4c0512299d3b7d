"""Least privilege and ownership end to end: what the app may touch, and what it never reveals.

The status route's auth level (``function``, through the indexed bindings) is checked in
test_input_and_poison.py::test_bindings_as_the_host_would_index_them (``get_functions()`` may
be called once per process).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import requests

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.azurite import Azurite
from localazure.entra import user_principal
from localazure.tokens import mint_token
from tests.plugins.provisioner import (
    Provisioner,
    refused_for_its_subscription,
    sample_request,
    summary,
)
from tests.plugins.reliability import FigureLog

OTHER_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def _with(request: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**request, **changes}


def _group_tags(arm: ArmEmulator, name: str) -> dict[str, str]:
    answer = requests.get(
        f"{arm.url}/subscriptions/{DEFAULT_SUBSCRIPTION}/resourcegroups/{name}"
        "?api-version=2025-04-01",
        headers={"Authorization": f"Bearer {mint_token(arm.url)}"},
        verify=str(arm.ca_pem),
        timeout=10,
    )
    answer.raise_for_status()
    tags: dict[str, str] = answer.json().get("tags") or {}
    return tags


def _figure(figures: FigureLog, scenario: str, outcome: str, **counts: int) -> None:
    """A row of the report's Least privilege section: one request and one message unless told."""
    figures.record(
        section="Least privilege",
        scenario=scenario,
        outcome=outcome,
        **{"requests": 1, "messages": 1, **counts},
    )


def test_settings_bound_what_a_request_may_target(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator, figures: FigureLog
) -> None:
    """Subscription, location, group prefix and node count limits refuse before any ARM call."""
    app = provisioner_factory(
        ALLOWED_LOCATIONS="westeurope,North Europe",
        RESOURCE_GROUP_PREFIX="rg-ok-",
        MAX_NODE_COUNT="5",
    )
    app.start()
    base = _with(sample_request(), resource_group=f"rg-ok-{uuid.uuid4().hex[:6]}")
    refused: dict[str, tuple[dict[str, Any], str]] = {
        "subscription": (
            _with(sample_request(), subscription_id=OTHER_SUBSCRIPTION, resource_group="rg-ok-s"),
            "SubscriptionNotAllowed",
        ),
        "location": (
            _with(sample_request(), location="eastus", resource_group="rg-ok-l"),
            "LocationNotAllowed",
        ),
        "prefix": (
            _with(sample_request(), resource_group="rg-elsewhere"),
            "ResourceGroupNotAllowed",
        ),
        "node_count": (
            _with(
                sample_request(),
                resource_group="rg-ok-n",
                cluster={**base["cluster"], "node_count": 6},
            ),
            "InvalidRequest",
        ),
    }
    allowed = {**base, "location": "North Europe", "cluster": {**base["cluster"], "node_count": 5}}
    for request, _ in refused.values():
        app.send(request)
    app.send(allowed)
    for name, (request, code) in refused.items():
        status = app.wait_for(request["request_id"])
        assert (status["phase"], status["error"]["code"]) == ("failed", code), name
        assert not app.arm_calls(request["resource_group"]), name
        assert DEFAULT_SUBSCRIPTION not in status["error"]["message"], name  # no allow-list leak
    assert (
        "cluster.node_count"
        in app.wait_for(refused["node_count"][0]["request_id"])["error"]["message"]
    )
    ok = app.wait_for(allowed["request_id"])
    assert ok["phase"] == "succeeded", ok
    _figure(
        figures,
        "ALLOWED_SUBSCRIPTIONS, ALLOWED_LOCATIONS, RESOURCE_GROUP_PREFIX, MAX_NODE_COUNT",
        "4 refused before any ARM call (SubscriptionNotAllowed, LocationNotAllowed, "
        "ResourceGroupNotAllowed, InvalidRequest); the request at the bounds succeeded",
        requests=5,
        messages=5,
    )


def test_empty_allowed_subscriptions_refuses_everything(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator
) -> None:
    """No ALLOWED_SUBSCRIPTIONS: start-up logs an ERROR and a request fails naming the setting."""
    app = provisioner_factory(ALLOWED_SUBSCRIPTIONS="")
    refused_for_its_subscription(app, arm)
    output = app.host.output if app.host else ""
    assert re.search(r"ERROR.*ALLOWED_SUBSCRIPTIONS is empty", output)


def test_foreign_group_is_refused_from_the_get_before_any_put(
    provisioner: Provisioner, arm: ArmEmulator, figures: FigureLog
) -> None:
    """A group without managed-by: ResourceGroupNotOwned after one GET, never a PUT or AKS call."""
    request = sample_request()
    arm.add_group(request["resource_group"], location="westeurope", tags={"owner": "team-b"})
    provisioner.send(request)
    status = provisioner.wait_for(request["request_id"])
    assert (status["phase"], status["error"]["code"]) == ("failed", "ResourceGroupNotOwned")
    assert summary(provisioner.arm_calls(request["resource_group"])) == ["GET rg 200"]
    assert _group_tags(arm, request["resource_group"]) == {"owner": "team-b"}
    _figure(
        figures,
        "existing group without managed-by (no adoption)",
        "failed ResourceGroupNotOwned after one GET; no PUT; tags untouched",
    )


def test_adoption_never_overwrites_the_groups_tags(
    provisioner_factory: Callable[..., Provisioner], arm: ArmEmulator, figures: FigureLog
) -> None:
    """ADOPT_EXISTING_RESOURCE_GROUPS=true: the cluster is created, the group is never PUT."""
    app = provisioner_factory(ADOPT_EXISTING_RESOURCE_GROUPS="true")
    app.start()
    request = sample_request()
    arm.add_group(request["resource_group"], location="westeurope", tags={"owner": "team-b"})
    app.send(request)
    status = app.wait_for(request["request_id"])
    assert status["phase"] == "succeeded", status
    calls = app.arm_calls(request["resource_group"])
    group_puts = [
        c for c in calls if c.method == "PUT" and "/managedclusters/" not in c.path.lower()
    ]
    assert not group_puts
    assert _group_tags(arm, request["resource_group"]) == {"owner": "team-b"}
    aks_put = next(c for c in calls if c.method == "PUT" and c.status == 201)
    assert aks_put.body["tags"]["managed-by"] == "aks-provisioner"
    assert aks_put.body["tags"]["request_id"] == request["request_id"]
    _figure(
        figures,
        "ADOPT_EXISTING_RESOURCE_GROUPS=true on a foreign group",
        "succeeded; no group PUT, the group's tags unchanged; cluster tagged",
        duplicate_creates=len([c for c in calls if c.method == "PUT" and c.status == 201]) - 1,
    )


def test_no_secret_reaches_the_log_over_a_run_with_faults(
    provisioner: Provisioner, arm: ArmEmulator, azurite: Azurite, figures: FigureLog
) -> None:
    """Key, connection string, identity header and tokens never appear in the host's output."""
    arm.add_fault("unauthorized", method="GET", path=r"/resourcegroups/rg-secret-a$", times=None)
    arm.add_fault("forbidden", method="PUT", path="/managedclusters/", times=None)
    arm.add_fault("drop", method="PUT", path=r"/resourcegroups/rg-secret-b$", times=1)
    arm.add_fault("throttle", method="GET", path=r"/resourcegroups/rg-secret-b$", times=1)
    first = _with(sample_request(), resource_group="rg-secret-a")
    second = _with(sample_request(), resource_group="rg-secret-b")
    provisioner.send(first)
    provisioner.send(second)
    provisioner.send_raw("not base64 at all")
    provisioner.send({**first, "request_id": str(uuid.uuid4()), "attempt": 3})
    assert provisioner.wait_for(first["request_id"])["phase"] == "failed"
    assert provisioner.wait_for(second["request_id"], timeout=60)["phase"] == "failed"
    provisioner.wait_for_archive(4)
    output = provisioner.host.output if provisioner.host else ""
    assert "AuthorizationFailed" in output  # the faults did run and were logged
    secrets = {
        "account key": azurite.account_key,
        "connection string": azurite.connection_string,
        "IDENTITY_HEADER": arm.identity_header,
    }
    for name, value in secrets.items():
        assert value and any(value in given for given in provisioner.settings.values()), name
        assert value not in output, f"{name} leaked into the log"
    assert not JWT.search(output), "a bearer token leaked into the log"
    assert "Bearer " not in output
    for row in provisioner.archive():  # nor into the archive operators read
        text = repr(row)
        assert all(value not in text for value in secrets.values())
        assert not JWT.search(text)
    _figure(
        figures,
        "no secret in the host log over a run with 401, 403, 429 and a drop",
        "0 occurrences of the account key, connection string, IDENTITY_HEADER or a "
        "bearer token in the log or the archive",
        requests=3,
        faults=4,
        messages=4,
    )


def test_status_errors_reveal_nothing_about_other_requests(
    provisioner: Provisioner, figures: FigureLog
) -> None:
    """404/400 answers name nothing but the id asked for; the listing shows no one else's."""
    request = sample_request()
    provisioner.send(request)
    provisioner.wait_for(request["request_id"])
    unknown = str(uuid.uuid4())
    code, body = provisioner.status(unknown)
    assert code == 404
    text = repr(body)
    assert DEFAULT_SUBSCRIPTION not in text
    assert request["request_id"] not in text and request["resource_group"] not in text
    assert set(re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", text)) == {unknown}
    code, body = provisioner.status(request["request_id"].upper() + "x")
    assert code == 400
    assert DEFAULT_SUBSCRIPTION not in repr(body) and request["resource_group"] not in repr(body)
    stranger = provisioner.token(
        user_principal("mallory@contoso.example"), ("Provisioning.Request",)
    )
    for path in ("/api/provisioning", "/api/provisioning/", "/api/provisioning/*"):
        for token in (None, stranger):
            code, answer, _ = provisioner.call("GET", path, token)
            assert code in (200, 400, 401, 404), path
            assert request["request_id"] not in repr(answer), path
    _figure(
        figures,
        "status endpoint errors (404, 400; the listing shows only one's own)",
        "404/400 name only the id asked for; another caller's listing omits it",
    )
