"""Issue 12's acceptance over the real wire: the local host serving function_app.py's HTTP
routes, Azurite, the ARM emulator and the Entra stand-in (OpenID metadata and JWKS over HTTPS).
Tokens are minted by the stand-in with Entra's claim shapes; refused ones are forged here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from azure.data.tables import TableServiceClient
from cryptography.hazmat.primitives import serialization

from localazure.arm import DEFAULT_SUBSCRIPTION, ArmEmulator
from localazure.entra import (
    EntraStandIn,
    Principal,
    SigningKeys,
    Tenant,
    app_principal,
    mint_access_token,
    user_principal,
)
from localazure.host.process import LocalHostError
from tests.plugins.provisioner import Provisioner, sample_request

ALICE = user_principal("alice@contoso.example")
BOB = user_principal("bob@contoso.example")
OPERATOR = app_principal("provisioning-operator")
REQUEST = ("Provisioning.Request",)
READ_ALL = ("Provisioning.ReadAll",)
OTHER_TENANT = "9c5e0b2d-4a71-4f3e-8d26-7b1a0c9e5f48"

Factory = Callable[..., Provisioner]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged_tokens(entra: EntraStandIn) -> dict[str, str]:
    """One refused token per case of the issue (the last one is valid but lacks the role)."""
    tenant = entra.tenant

    def mint(**options: Any) -> str:
        return entra.token(ALICE, roles=REQUEST, **options)

    claims = jwt.decode(mint(), options={"verify_signature": False})
    public = tenant.keys.current.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": tenant.keys.current.kid}
    header, payload, signature = mint().split(".")
    flipped = payload[:20] + ("A" if payload[20] != "A" else "B") + payload[21:]
    return {
        "expired": mint(now=time.time() - 7200),
        "not yet valid": mint(overrides={"nbf": int(time.time()) + 3600}),
        "wrong audience": mint(audience="api://some-other-api"),
        "wrong issuer": mint(overrides={"iss": f"https://sts.windows.net/{tenant.tenant_id}/"}),
        "wrong tenant": mint_access_token(
            Tenant(tenant.authority_host, OTHER_TENANT, tenant.keys),
            ALICE,
            audience=entra.audience,
            roles=REQUEST,
        ),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "HS256 with the public key": _hs256(public, hs_header, claims),
        "unknown kid": mint_access_token(
            Tenant(tenant.authority_host, tenant.tenant_id, SigningKeys()),
            ALICE,
            audience=entra.audience,
            roles=REQUEST,
        ),
        "flipped payload byte": f"{header}.{flipped}.{signature}",
        "no Provisioning.Request": entra.token(ALICE, roles=READ_ALL),
    }


def _hs256(key: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """HMAC-SHA256 keyed with the tenant's public key (PyJWT refuses to make this one)."""
    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    mac = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def table_rows(app: Provisioner, setting: str) -> list[dict[str, Any]]:
    service = TableServiceClient.from_connection_string(app.azurite.connection_string)
    try:
        return [
            dict(row) for row in service.get_table_client(app.settings[setting]).list_entities()
        ]
    except Exception:  # the table does not exist yet
        return []


def post(
    app: Provisioner, principal: Principal, roles: tuple[str, ...], **request: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return app.call(
        "POST",
        "/api/provisioning",
        app.entra.token(principal, roles=roles),
        sample_request(**request),
    )


def wait_for(
    app: Provisioner, request_id: str, principal: Principal = ALICE, timeout: float = 60
) -> dict[str, Any]:
    token = app.entra.token(principal, roles=REQUEST)
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        code, body, _ = app.call("GET", f"/api/provisioning/{request_id}", token)
        assert code == 200, body
        if body["phase"] in ("succeeded", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{request_id} did not end: {body}")


# --- token handling ------------------------------------------------------------------------


def test_every_bad_token_is_refused_with_no_record_no_message_and_no_arm_call(
    provisioner_factory: Factory, arm: ArmEmulator
) -> None:
    """Expired, not yet valid, wrong audience/issuer/tenant, alg none, HS256 with the public
    key, unknown kid, a flipped payload byte: 401 (WWW-Authenticate invalid_token); a valid
    token without Provisioning.Request: 403. Nothing is stored, queued or sent to ARM."""
    app = provisioner_factory()
    app.start()
    tokens = forged_tokens(app.entra)
    assert len(tokens) == 10
    for case, token in tokens.items():
        code, body, headers = app.call("POST", "/api/provisioning", token, sample_request())
        expected = 403 if case == "no Provisioning.Request" else 401
        assert code == expected, (case, body)
        if code == 401:
            assert headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"'), case
        for part in filter(None, token.split(".")):
            assert part not in json.dumps(body) + json.dumps(headers), case
    assert table_rows(app, "STATUS_TABLE_NAME") == []
    assert table_rows(app, "REQUESTER_TABLE_NAME") == []
    assert app.queue.peek_messages(max_messages=32) == []
    assert arm.calls == []


def test_keys_are_fetched_once_for_many_calls(provisioner_factory: Factory) -> None:
    """After the first call, validating tokens makes no call to the tenant (keys cached)."""
    app = provisioner_factory()
    app.start()
    token = app.entra.token(ALICE, roles=REQUEST)
    app.call("GET", "/api/provisioning", token)
    fetched = app.entra.key_fetches()
    for _ in range(10):
        assert app.call("GET", "/api/provisioning", token)[0] == 200
    assert app.entra.key_fetches() == fetched == 1


def test_without_a_tenant_the_routes_answer_503_and_the_queue_works(
    provisioner_factory: Factory,
) -> None:
    """No ENTRA_TENANT_ID: 503 with a clear message on every route; queue messages still run."""
    app = provisioner_factory(ENTRA_TENANT_ID="", ENTRA_API_AUDIENCE="")
    app.start()
    for method, path in (
        ("POST", "/api/provisioning"),
        ("GET", "/api/provisioning"),
        ("GET", f"/api/provisioning/{uuid.uuid4()}"),
    ):
        code, body, _ = app.call(
            method, path, app.entra.token(ALICE, roles=REQUEST), {} if method == "POST" else None
        )
        assert code == 503
        assert "ENTRA_TENANT_ID" in body["error"]["message"]
    request = sample_request()
    app.send(request)
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(r.get("phase") == "succeeded" for r in rows):
        time.sleep(0.3)
        rows = [r for r in table_rows(app, "STATUS_TABLE_NAME") if r["RowKey"] == "status"]
    assert [r["phase"] for r in rows] == ["succeeded"]


# --- policy ---------------------------------------------------------------------------------


def test_requests_outside_the_rule_are_403_with_the_rules_code(
    provisioner_factory: Factory, arm: ArmEmulator
) -> None:
    """VM size, node count, location and subscription outside the rule: 403 with their codes;
    two roles merge, and the global cap still wins."""
    policy = {
        "Provisioning.Request": {
            "vm_sizes": ["Standard_D2s_v5"],
            "max_node_count": 2,
            "locations": ["westeurope"],
        },
        "Provisioning.Large": {
            "vm_sizes": ["Standard_D8s_v5", "Standard_ND96isr_H100_v5"],
            "max_node_count": 5,
        },
    }
    app = provisioner_factory(
        REQUEST_POLICY=json.dumps(policy), ALLOWED_VM_SIZES="Standard_D2s_v5,Standard_D8s_v5"
    )
    app.start()
    small = {"name": "aks-a", "vm_size": "Standard_D2s_v5", "node_count": 1}
    cases: dict[str, dict[str, Any]] = {
        "VmSizeNotAllowed": {"cluster": {**small, "vm_size": "Standard_D8s_v5"}},
        "NodeCountNotAllowed": {"cluster": {**small, "node_count": 3}},
        "LocationNotAllowed": {"location": "northeurope", "cluster": small},
        "SubscriptionNotAllowed": {"subscription_id": str(uuid.uuid4()), "cluster": small},
    }
    for expected, fields in cases.items():
        code, body, _ = post(app, ALICE, REQUEST, **fields)
        assert (code, body["error"]["code"]) == (403, expected), body
    both = (*REQUEST, "Provisioning.Large")
    merged = {"cluster": {**small, "vm_size": "Standard_D8s_v5", "node_count": 5}}
    code, body, _ = post(app, BOB, both, **merged)
    assert code == 202, body
    capped = {"cluster": {**small, "vm_size": "Standard_ND96isr_H100_v5"}}
    code, body, _ = post(app, BOB, both, **capped)
    assert (code, body["error"]["code"]) == (403, "VmSizeNotAllowed")


def test_a_malformed_policy_fails_start_up_naming_the_setting(provisioner_factory: Factory) -> None:
    """REQUEST_POLICY that is not a valid policy stops the app at start-up, naming it."""
    app = provisioner_factory(REQUEST_POLICY='{"Provisioning.Request": {"max_nodes": 3}}')
    with pytest.raises(LocalHostError) as caught:
        app.start(startup_timeout=20)
    assert "REQUEST_POLICY" in str(caught.value)


# --- quota ----------------------------------------------------------------------------------


def test_a_third_live_request_is_429_until_one_ends(
    provisioner_factory: Factory, arm: ArmEmulator
) -> None:
    """max_in_flight 2: the third live request gets 429 TooManyRequestsInFlight with
    Retry-After; once one has failed, a new one is accepted."""
    app = provisioner_factory(
        REQUEST_POLICY=json.dumps({"Provisioning.Request": {"max_in_flight": 2}})
    )
    app.start()
    arm.set_cluster_create(polls=10**6)  # the creates never finish by themselves
    live = []
    for _ in range(2):
        code, body, _ = post(app, ALICE, REQUEST)
        assert code == 202, body
        live.append(body["request_id"])
    code, body, headers = post(app, ALICE, REQUEST)
    assert (code, body["error"]["code"]) == (429, "TooManyRequestsInFlight")
    assert int(headers["Retry-After"]) > 0
    assert post(app, BOB, REQUEST)[0] == 202  # the quota is per requester
    arm.add_fault("forbidden", method="GET", path="/operations/", times=None)
    ended = wait_for(app, live[0])
    assert ended["phase"] == "failed"
    code, body, _ = post(app, ALICE, REQUEST)
    assert code == 202, body


# --- happy path, isolation ------------------------------------------------------------------


def test_post_follow_location_to_success_with_requested_by_everywhere(
    provisioner_factory: Factory, arm: ArmEmulator
) -> None:
    """202 + Location; following it reaches succeeded; the status names the requester; the
    group and the cluster carry requested-by=<oid>. Isolation: Bob gets 404, ReadAll sees it,
    and each listing holds only its caller's requests."""
    app = provisioner_factory()
    app.start()
    code, body, headers = post(app, ALICE, REQUEST)
    assert code == 202, body
    request_id = body["request_id"]
    assert headers["Location"] == f"/api/provisioning/{request_id}"
    assert int(headers["Retry-After"]) > 0
    final = wait_for(app, request_id)
    assert final["phase"] == "succeeded", final
    assert final["requested_by"] == {
        "kind": "user",
        "oid": ALICE.oid,
        "tid": app.entra.tenant.tenant_id,
        "name": "alice@contoso.example",
    }
    puts = [c for c in arm.calls if c.method == "PUT" and request_id in json.dumps(c.body)]
    assert len(puts) == 2  # the group and the cluster
    assert all(c.body["tags"]["requested-by"] == ALICE.oid for c in puts)

    bob = app.entra.token(BOB, roles=REQUEST)
    hidden = app.call("GET", f"/api/provisioning/{request_id}", bob)
    unknown = app.call("GET", f"/api/provisioning/{uuid.uuid4()}", bob)
    assert hidden[0] == unknown[0] == 404
    assert hidden[1]["error"]["code"] == unknown[1]["error"]["code"]
    assert app.call("GET", f"/api/provisioning/{request_id}", app.token())[0] == 200
    assert post(app, BOB, REQUEST)[0] == 202
    mine = app.call("GET", "/api/provisioning", app.entra.token(ALICE, roles=REQUEST))[1]
    assert [item["request_id"] for item in mine["items"]] == [request_id]
    theirs = app.call("GET", "/api/provisioning", bob)[1]
    assert request_id not in json.dumps(theirs) and len(theirs["items"]) == 1
    everyone = app.call("GET", "/api/provisioning?all=true", app.token())[1]
    assert len(everyone["items"]) == 2


# --- ownership ------------------------------------------------------------------------------


def test_another_requesters_group_and_managed_groups_are_never_targets(
    provisioner_factory: Factory, arm: ArmEmulator
) -> None:
    """Bob naming Alice's app-made group fails ResourceGroupNotOwned after one GET and no PUT;
    a group with managedBy set is refused likewise."""
    app = provisioner_factory()
    app.start()
    code, body, _ = post(app, ALICE, REQUEST, resource_group="rg-alice")
    assert wait_for(app, body["request_id"])["phase"] == "succeeded"
    arm.reset()
    arm.add_group(
        "rg-alice",
        tags={"managed-by": "aks-provisioner", "requested-by": ALICE.oid},
        location="westeurope",
    )
    arm.add_group(
        "MC_rg_aks_westeurope",
        location="westeurope",
        managed_by=f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/rg/providers/"
        "Microsoft.ContainerService/managedClusters/aks",
    )
    for group in ("rg-alice", "MC_rg_aks_westeurope"):
        code, body, _ = post(app, BOB, REQUEST, resource_group=group)
        assert code == 202, body
        final = wait_for(app, body["request_id"], BOB)
        assert final["error"]["code"] == "ResourceGroupNotOwned", final
        calls = app.arm_calls(group)
        assert [c.method for c in calls] == ["GET"], calls


# --- queue path -----------------------------------------------------------------------------


@pytest.mark.parametrize("refused", [False, True])
def test_queue_messages_run_as_queue_unless_refused(
    provisioner_factory: Factory, refused: bool
) -> None:
    """A message dropped on the queue still runs with requested_by {"kind": "queue"}; with
    "$queue": false it fails DirectQueueRequestsRefused."""
    settings = {"REQUEST_POLICY": '{"$queue": false}'} if refused else {}
    app = provisioner_factory(**settings)
    app.start()
    request = sample_request()
    app.send(request)
    final = app.wait_for(request["request_id"])
    assert final["requested_by"] == {"kind": "queue"}
    if refused:
        assert final["error"]["code"] == "DirectQueueRequestsRefused"
    else:
        assert final["phase"] == "succeeded"


# --- no token in any store ------------------------------------------------------------------


def test_no_token_or_signature_is_stored_or_logged(provisioner_factory: Factory) -> None:
    """After a run with good and forged tokens, no token, nor any part of its signature,
    appears in the status table, the requester table, the poison archive or the host's log."""
    app = provisioner_factory()
    host = app.start()
    good = app.entra.token(ALICE, roles=REQUEST)
    tokens = [good, *forged_tokens(app.entra).values()]
    _, body, _ = app.call("POST", "/api/provisioning", good, sample_request())
    wait_for(app, body["request_id"])
    for token in tokens:
        app.call("POST", "/api/provisioning", token, sample_request())
        app.call("GET", f"/api/provisioning/{body['request_id']}", token)
    app.send(sample_request(location="nowhere!"))  # something for the archive
    app.wait_for_archive(1)
    stores = (
        json.dumps(
            [
                table_rows(app, name)
                for name in (
                    "STATUS_TABLE_NAME",
                    "REQUESTER_TABLE_NAME",
                    "POISON_ARCHIVE_TABLE_NAME",
                )
            ],
            default=str,
        )
        + host.output
    )
    for token in tokens:
        signature = token.rsplit(".", 1)[-1]
        assert token not in stores
        if signature:
            assert signature not in stores
            assert signature[:16] not in stores
