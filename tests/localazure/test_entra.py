"""The Entra stand-in over HTTPS: metadata, keys, and tokens a standard JWT library accepts."""

from __future__ import annotations

import jwt
import pytest
import requests

from localazure.entra import (
    API_CLIENT_ID,
    CLIENT_APP_ID,
    EntraStandIn,
    app_principal,
    user_principal,
)


def _get(standin: EntraStandIn, url: str) -> requests.Response:
    return requests.get(url, verify=str(standin.ca_pem), timeout=10)


def _metadata(standin: EntraStandIn) -> dict[str, object]:
    url = (
        f"{standin.authority_host}/{standin.tenant.tenant_id}/v2.0/.well-known/openid-configuration"
    )
    response = _get(standin, url)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_metadata_names_issuer_and_keys_of_the_tenant(entra: EntraStandIn) -> None:
    """The OpenID metadata gives the v2 issuer and a jwks_uri under the same authority."""
    metadata = _metadata(entra)
    tenant = entra.tenant.tenant_id
    assert metadata["issuer"] == f"{entra.authority_host}/{tenant}/v2.0"
    assert metadata["jwks_uri"] == f"{entra.authority_host}/{tenant}/discovery/v2.0/keys"
    assert str(metadata["token_endpoint"]).endswith(f"/{tenant}/oauth2/v2.0/token")


def test_keys_are_rsa_signing_keys_with_kids(entra: EntraStandIn) -> None:
    """The JWKS lists RSA keys for signatures, each with a kid, and counts the fetch."""
    keys = _get(entra, str(_metadata(entra)["jwks_uri"])).json()["keys"]
    assert keys
    assert all(k["kty"] == "RSA" and k["use"] == "sig" and k["kid"] for k in keys)
    assert entra.key_fetches() == 1


def test_unknown_tenant_is_refused_like_entra(entra: EntraStandIn) -> None:
    """Another tenant's metadata path answers 400 invalid_tenant (AADSTS90002)."""
    response = _get(
        entra, f"{entra.authority_host}/common-nope/v2.0/.well-known/openid-configuration"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert "AADSTS90002" in response.json()["error_description"]


def test_an_unknown_path_answers_404_in_the_oauth_error_shape(entra: EntraStandIn) -> None:
    """A path the stand-in does not serve: 404 with the same ``error``/``error_description``
    body (and CORS header) as every other error of the stand-in."""
    response = _get(entra, f"{entra.authority_host}/{entra.tenant.tenant_id}/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "error_description": f"/{entra.tenant.tenant_id}/nothing/here",
    }
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("kind", ["user", "app"])
def test_minted_token_verifies_against_the_published_keys(entra: EntraStandIn, kind: str) -> None:
    """PyJWT, given only the served JWKS, verifies a minted token and reads Entra's claims."""
    principal = (
        user_principal("alice@contoso.example", name="Alice")
        if kind == "user"
        else app_principal("nightly-builder")
    )
    token = entra.token(principal, roles=["Provisioning.Request"])
    jwks = jwt.PyJWKSet.from_dict(_get(entra, str(_metadata(entra)["jwks_uri"])).json())
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    claims = jwt.decode(
        token,
        jwks[header["kid"]].key,
        algorithms=["RS256"],
        audience=API_CLIENT_ID,
        issuer=entra.issuer,
    )
    assert claims["ver"] == "2.0"
    assert claims["tid"] == entra.tenant.tenant_id
    assert claims["oid"] == principal.oid
    assert claims["roles"] == ["Provisioning.Request"]
    if kind == "user":
        assert claims["preferred_username"] == "alice@contoso.example"
        assert claims["azp"] == CLIENT_APP_ID
        assert claims["scp"]
    else:
        assert claims["azp"] == principal.app_id
        assert "scp" not in claims


def test_rotated_key_is_published_and_signs(entra_standin: EntraStandIn) -> None:
    """After a rotation the new kid is in the JWKS and new tokens carry it."""
    fresh = entra_standin.keys.rotate()
    kids = [
        k["kid"]
        for k in _get(entra_standin, str(_metadata(entra_standin)["jwks_uri"])).json()["keys"]
    ]
    assert kids[0] == fresh.kid
    token = entra_standin.token(user_principal("bob@contoso.example"))
    assert jwt.get_unverified_header(token)["kid"] == fresh.kid
