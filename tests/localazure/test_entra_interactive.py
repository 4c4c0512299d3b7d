"""The Entra stand-in's interactive endpoints, driven over HTTPS as MSAL.js drives them."""

from __future__ import annotations

import secrets
import ssl
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.storage.queue import QueueClient

from localazure.azurite import Azurite
from localazure.entra import API_CLIENT_ID, CLIENT_APP_ID, EntraStandIn
from localazure.entra.interactive import (
    STORAGE_SCOPE,
    TEST_USERS,
    WRONG_PASSWORD,
    InteractiveSignIn,
    pkce_challenge,
)

if TYPE_CHECKING:
    from localazure.certs import TestCertificates

SPA_ORIGIN = "http://localhost:5173"
REDIRECT_URI = f"{SPA_ORIGIN}/redirect.html"
API_SCOPE = f"api://{API_CLIENT_ID}/access_as_user"
ALICE = TEST_USERS[0]


@pytest.fixture(scope="module")
def standin(test_certs: TestCertificates) -> Iterator[EntraStandIn]:
    with EntraStandIn(test_certs) as entra:
        InteractiveSignIn(redirect_uris=[REDIRECT_URI]).install(entra.app)
        yield entra


@pytest.fixture
def https(test_certs: TestCertificates) -> requests.Session:
    session = requests.Session()
    session.verify = str(test_certs.ca_pem)
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would win over verify
    return session


def _endpoint(standin: EntraStandIn, name: str) -> str:
    return f"{standin.authority_host}/{standin.tenant.tenant_id}/oauth2/v2.0/{name}"


def _authorize_params(challenge: str, scope: str = API_SCOPE) -> dict[str, str]:
    return {
        "client_id": CLIENT_APP_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": f"{scope} openid profile offline_access",
        "state": "s-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": "fragment",
    }


def _sign_in(
    https: requests.Session, standin: EntraStandIn, verifier: str, password: str = ALICE.password
) -> requests.Response:
    page = https.get(
        _endpoint(standin, "authorize"), params=_authorize_params(pkce_challenge(verifier))
    )
    assert page.status_code == 200 and "id=i0116" in page.text
    query = urlsplit(page.url).query
    form = {"query": query, "loginfmt": ALICE.username, "passwd": password}
    return https.post(_endpoint(standin, "authorize"), data=form, allow_redirects=False)


def _code(https: requests.Session, standin: EntraStandIn, verifier: str) -> str:
    answer = _sign_in(https, standin, verifier)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "#")
    fragment = dict(parse_qsl(urlsplit(location).fragment))
    assert fragment["state"] == "s-123" and fragment["client_info"]
    return fragment["code"]


def _redeem(
    https: requests.Session, standin: EntraStandIn, code: str, verifier: str, **extra: str
) -> requests.Response:
    form = {
        "client_id": CLIENT_APP_ID,
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT_URI,
        "scope": f"{API_SCOPE} openid profile offline_access",
    }
    return https.post(
        _endpoint(standin, "token"), data={**form, **extra}, headers={"Origin": SPA_ORIGIN}
    )


def _verified(standin: EntraStandIn, token: str, audience: str, ca: str) -> dict[str, Any]:
    """The claims, checked with PyJWT against the JWKS the metadata names."""
    client = jwt.PyJWKClient(
        f"{standin.authority_host}/{standin.tenant.tenant_id}/discovery/v2.0/keys",
        ssl_context=ssl.create_default_context(cafile=ca),
    )
    key = client.get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=audience, issuer=standin.issuer
    )
    return claims


def test_code_and_pkce_give_tokens_the_api_accepts(standin, https, test_certs):
    """Sign-in, code redemption with the verifier: API token with roles and scp, id token."""
    verifier = secrets.token_urlsafe(48)
    answer = _redeem(https, standin, _code(https, standin, verifier), verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    body = answer.json()
    assert body["scope"] == API_SCOPE and body["refresh_token"] and body["client_info"]
    access = _verified(standin, body["access_token"], API_CLIENT_ID, str(test_certs.ca_pem))
    assert access["roles"] == ["Provisioning.Request"]
    assert access["scp"] == "access_as_user" and access["azp"] == CLIENT_APP_ID
    assert access["preferred_username"] == ALICE.username and access["ver"] == "2.0"
    identity = _verified(standin, body["id_token"], CLIENT_APP_ID, str(test_certs.ca_pem))
    assert identity["nonce"] == "n-456" and identity["oid"] == access["oid"]


def test_wrong_password_shows_the_form_again(standin, https):
    """A wrong password gets Entra's message and no code."""
    answer = _sign_in(https, standin, "v" * 43, password="guess")
    assert answer.status_code == 200 and WRONG_PASSWORD in answer.text


def test_code_is_single_use_and_bound_to_the_verifier(standin, https):
    """A wrong verifier fails AADSTS50148; a redeemed code fails AADSTS54005."""
    verifier = secrets.token_urlsafe(48)
    wrong = _redeem(https, standin, _code(https, standin, verifier), "x" * 43)
    assert wrong.status_code == 400 and "AADSTS50148" in wrong.json()["error_description"]
    code = _code(https, standin, verifier)
    assert _redeem(https, standin, code, verifier).status_code == 200
    again = _redeem(https, standin, code, verifier)
    assert again.status_code == 400 and "AADSTS54005" in again.json()["error_description"]


def test_unregistered_origin_and_redirect_uri_are_refused(standin, https):
    """Cross-origin redemption only for SPA redirect origins; unknown redirect URIs see a page."""
    verifier = secrets.token_urlsafe(48)
    code = _code(https, standin, verifier)
    form = {"client_id": CLIENT_APP_ID, "grant_type": "authorization_code", "code": code}
    other = https.post(
        _endpoint(standin, "token"), data=form, headers={"Origin": "http://127.0.0.1:9"}
    )
    assert other.status_code == 400 and "AADSTS9002326" in other.json()["error_description"]
    params = {**_authorize_params("c"), "redirect_uri": "https://evil.example/"}
    page = https.get(_endpoint(standin, "authorize"), params=params, allow_redirects=False)
    assert page.status_code == 400 and "AADSTS50011" in page.text


def test_refresh_token_gets_a_storage_token_azurite_accepts(
    standin, https, azurite_oauth: Azurite, test_certs
):
    """The refresh grant for Storage's scope gives a v1 token; Azurite (OAuth) takes it."""
    verifier = secrets.token_urlsafe(48)
    first = _redeem(https, standin, _code(https, standin, verifier), verifier).json()
    form = {
        "client_id": CLIENT_APP_ID,
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "scope": f"{STORAGE_SCOPE} openid profile offline_access",
    }
    answer = https.post(_endpoint(standin, "token"), data=form, headers={"Origin": SPA_ORIGIN})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["scope"] == STORAGE_SCOPE and body["refresh_token"] != first["refresh_token"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == f"https://sts.windows.net/{standin.tenant.tenant_id}/"
    assert claims["aud"] == "https://storage.azure.com" and claims["ver"] == "1.0"
    reused = https.post(_endpoint(standin, "token"), data=form)
    assert reused.status_code == 400  # rotated: the old refresh token is gone

    class Bearer:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken(body["access_token"], int(claims["exp"]))

    queue = QueueClient(
        azurite_oauth.queue_url,
        f"q-{uuid.uuid4().hex[:12]}",
        credential=Bearer(),
        connection_verify=str(test_certs.ca_pem),
    )
    queue.create_queue()
    queue.send_message("aGVsbG8=")
    assert [m.content for m in queue.receive_messages()] == ["aGVsbG8="]
    queue.delete_queue()
