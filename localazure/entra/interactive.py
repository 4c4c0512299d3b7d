"""Entra's interactive v2 endpoints for a single-page app: sign-in page, code + PKCE, refresh.

What MSAL.js (``@azure/msal-browser``, authorization code flow with PKCE) calls, on the paths the
stand-in's metadata already names:

* ``GET /{tenant}/oauth2/v2.0/authorize``: checks ``client_id`` and the registered
  ``redirect_uri`` (an error page otherwise, never a redirect to an unknown address), then shows
  a sign-in form (Entra's field ids ``i0116``/``i0118`` and button ``idSIButton9``);
* ``POST`` of that form: a wrong password shows Entra's message again; otherwise a one-time code
  (10 minutes) goes back to the redirect URI in the fragment (``response_mode=fragment``,
  MSAL's default) or the query, with ``state`` and ``client_info``;
* ``POST /{tenant}/oauth2/v2.0/token``: ``authorization_code`` (S256 PKCE checked, code single
  use) and ``refresh_token`` (rotated on use). Cross-origin redemption is answered with
  ``Access-Control-Allow-Origin`` only for origins of registered SPA redirect URIs, as Entra
  does for the "Single-page application" platform (AADSTS9002326 otherwise), and needs PKCE
  (AADSTS9002325);
* ``GET /{tenant}/oauth2/v2.0/logout``: back to ``post_logout_redirect_uri`` when its origin is
  registered.

Every token is made by :func:`localazure.entra.mint.mint_access_token`: the API's v2 token
(``roles`` from the user's app-role assignments, ``scp`` ``access_as_user``), Storage's token as
Entra issues it for ``https://storage.azure.com/user_impersonation`` (a v1 token: ``iss``
``https://sts.windows.net/{tid}/``, ``aud`` ``https://storage.azure.com``), and the id token
(``aud`` the SPA, with the request's ``nonce``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from localazure.entra.app import EntraApp, oauth_error_body
from localazure.entra.mint import (
    API_CLIENT_ID,
    CLIENT_APP_ID,
    USER_SCOPE,
    Principal,
    Tenant,
    mint_access_token,
    user_principal,
)

REQUEST_ROLE = "Provisioning.Request"
READ_ALL_ROLE = "Provisioning.ReadAll"
STORAGE_RESOURCE = "https://storage.azure.com"
STORAGE_SCOPE = f"{STORAGE_RESOURCE}/user_impersonation"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
CODE_LIFETIME = 600  # Entra's authorization codes live about 10 minutes
REFRESH_LIFETIME = 24 * 3600  # an SPA's refresh token lives 24 hours
WRONG_PASSWORD = "Your account or password is incorrect."


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A directory user with a password and app-role assignments on the API."""

    username: str
    password: str
    display_name: str
    roles: tuple[str, ...]

    @property
    def principal(self) -> Principal:
        return user_principal(self.username, name=self.display_name)


# Test users of the emulated tenant; their passwords are public test fixtures, not secrets.
TEST_USERS = (
    DirectoryUser("alice@contoso.example", "alice-test-password", "Alice Adams", (REQUEST_ROLE,)),
    DirectoryUser("bob@contoso.example", "bob-test-password", "Bob Brown", (REQUEST_ROLE,)),
    DirectoryUser(
        "olivia@contoso.example",
        "olivia-test-password",
        "Olivia Operator",
        (REQUEST_ROLE, READ_ALL_ROLE),
    ),
)


@dataclass(frozen=True, slots=True)
class _Resource:
    """What a token request asks for: the API, Storage, or (sign-in only) no resource."""

    audience: str | None
    scopes: tuple[str, ...]  # the names granted, as they appear in ``scp``
    response_scope: str  # the response's ``scope``: the full scope strings


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    user: DirectoryUser
    scopes: tuple[str, ...]
    challenge: str | None
    nonce: str | None
    expires: float


@dataclass(frozen=True, slots=True)
class _Session:
    client_id: str
    user: DirectoryUser
    expires: float


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636's S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def client_info(principal: Principal, tenant: Tenant) -> str:
    return _b64url(json.dumps({"uid": principal.oid, "utid": tenant.tenant_id}).encode())


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class InteractiveSignIn:
    """The SPA's app registration (client id, redirect URIs) and the directory's test users."""

    def __init__(
        self,
        users: Iterable[DirectoryUser] = TEST_USERS,
        *,
        client_id: str = CLIENT_APP_ID,
        api_client_id: str = API_CLIENT_ID,
        redirect_uris: Iterable[str] = (),
    ) -> None:
        self.users = {user.username.lower(): user for user in users}
        self.client_id = client_id
        self.api_client_id = api_client_id
        self._redirect_uris = set(redirect_uris)
        self._codes: dict[str, _Grant] = {}
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    # -- registration ----------------------------------------------------------------------

    def register_redirect_uri(self, uri: str) -> None:
        """Add a redirect URI of the "Single-page application" platform."""
        with self._lock:
            self._redirect_uris.add(uri)

    @property
    def redirect_uris(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._redirect_uris)

    @property
    def spa_origins(self) -> frozenset[str]:
        return frozenset(origin_of(uri) for uri in self.redirect_uris)

    def install(self, app: EntraApp) -> InteractiveSignIn:
        app.add_route("GET", "/oauth2/v2.0/authorize", "authorize", self._authorize_page)
        app.add_route("POST", "/oauth2/v2.0/authorize", "sign-in", self._sign_in)
        app.add_route("POST", "/oauth2/v2.0/token", "token", self._token)
        app.add_route("GET", "/oauth2/v2.0/logout", "logout", self._logout)
        return self

    # -- scopes ----------------------------------------------------------------------------

    def resource_of(self, scopes: Sequence[str]) -> _Resource:
        """The one resource a request's scopes name (Entra refuses two in one token)."""
        named = [s for s in scopes if s.lower() not in OIDC_SCOPES]
        api_prefixes = (f"api://{self.api_client_id}/", f"{self.api_client_id}/")
        resources: dict[str, list[str]] = {}
        for scope in named:
            lowered = scope.lower()
            if lowered.startswith(api_prefixes):
                resources.setdefault(self.api_client_id, []).append(scope)
            elif lowered.startswith(STORAGE_RESOURCE + "/"):
                resources.setdefault(STORAGE_RESOURCE, []).append(scope)
            else:
                raise OAuthError(
                    "invalid_scope",
                    f"AADSTS70011: The provided value for the input parameter 'scope' is not "
                    f"valid. The scope {scope} is not valid.",
                )
        if len(resources) > 1:
            raise OAuthError(
                "invalid_scope",
                "AADSTS28000: Provided value for the input parameter scope is not valid because "
                "it contains more than one resource.",
            )
        if not resources:
            return _Resource(None, (), "openid profile offline_access")
        audience, requested = next(iter(resources.items()))
        granted = USER_SCOPE if audience == self.api_client_id else "user_impersonation"
        for scope in requested:
            name = scope.rsplit("/", 1)[1]
            if name not in (granted, ".default"):
                raise OAuthError(
                    "invalid_scope",
                    f"AADSTS65005: The application asked for scope '{name}' that doesn't exist "
                    "on the resource.",
                )
        prefix = f"api://{audience}" if audience == self.api_client_id else audience
        return _Resource(audience, (granted,), f"{prefix}/{granted}")

    # -- authorize -------------------------------------------------------------------------

    def _checked_client(self, params: dict[str, str]) -> str | None:
        """An error text for an unknown client or redirect URI (shown, never redirected to)."""
        if params.get("client_id") != self.client_id:
            return (
                f"AADSTS700016: Application with identifier '{params.get('client_id', '')}' was "
                "not found in the directory."
            )
        if params.get("redirect_uri") not in self.redirect_uris:
            return (
                "AADSTS50011: The redirect URI specified in the request does not match the "
                "redirect URIs configured for the application."
            )
        return None

    def _authorize_page(self, request: Request, tenant: Tenant) -> Response:
        params = dict(request.args.items())
        refused = self._authorize_refusal(params)
        if refused is not None:
            return refused
        return _login_form(request.query_string.decode("ascii"), params.get("login_hint", ""))

    def _authorize_refusal(self, params: dict[str, str]) -> Response | None:
        """What the authorize page and the sign-in form answer to bad parameters, or None: an
        error page for an unknown client or redirect URI (nowhere safe to redirect to), else a
        redirect carrying the OAuth error."""
        problem = self._checked_client(params)
        if problem:
            return _page("Sign in", f"<p class=error>{html.escape(problem)}</p>", 400)
        try:
            self._validate_authorize(params)
        except OAuthError as exc:
            return _redirect_error(params, exc)
        return None

    def _validate_authorize(self, params: dict[str, str]) -> _Resource:
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "AADSTS700054: response_type 'code'.")
        method = params.get("code_challenge_method", "plain")
        if params.get("code_challenge") and method != "S256":
            raise OAuthError("invalid_request", "AADSTS501491: Invalid code_challenge_method.")
        return self.resource_of(params.get("scope", "").split())

    def _sign_in(self, request: Request, tenant: Tenant) -> Response:
        query = request.form.get("query", "")
        params = dict(parse_qsl(query))
        refused = self._authorize_refusal(params)
        if refused is not None:
            return refused
        username = request.form.get("loginfmt", "").strip()
        user = self.users.get(username.lower())
        if user is None or not secrets.compare_digest(
            user.password.encode(), request.form.get("passwd", "").encode()
        ):
            return _login_form(query, username, error=WRONG_PASSWORD)
        code = secrets.token_urlsafe(48)
        with self._lock:
            self._codes[code] = _Grant(
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                user=user,
                scopes=tuple(params.get("scope", "").split()),
                challenge=params.get("code_challenge") or None,
                nonce=params.get("nonce") or None,
                expires=time.time() + CODE_LIFETIME,
            )
        answer = {"code": code, "client_info": client_info(user.principal, tenant)}
        if "state" in params:
            answer["state"] = params["state"]
        answer["session_state"] = secrets.token_hex(16)
        return _redirect(params, answer)

    # -- token -----------------------------------------------------------------------------

    def _token(self, request: Request, tenant: Tenant) -> Response:
        origin = request.headers.get("Origin")
        try:
            if origin is not None and origin.lower() not in self.spa_origins:
                raise OAuthError(
                    "invalid_request",
                    "AADSTS9002326: Cross-origin token redemption is permitted only for the "
                    f"'Single-Page Application' client-type. Request origin: '{origin}'.",
                )
            form = dict(request.form.items())
            if form.get("client_id") != self.client_id:
                raise OAuthError(
                    "unauthorized_client",
                    f"AADSTS700016: Application with identifier '{form.get('client_id', '')}' "
                    "was not found in the directory.",
                )
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                user, scopes, nonce = self._redeem_code(form, cross_origin=origin is not None)
            elif grant_type == "refresh_token":
                user, scopes, nonce = (
                    self._redeem_refresh(form),
                    tuple(form.get("scope", "").split()),
                    None,
                )
            else:
                raise OAuthError(
                    "unsupported_grant_type",
                    f"AADSTS70003: The app requested an unsupported grant type '{grant_type}'.",
                )
            body = self._tokens(tenant, user, scopes, nonce)
        except OAuthError as exc:
            return _cors(
                _json(exc.status, oauth_error_body(exc.error, exc.description)),
                origin,
            )
        return _cors(_json(200, body), origin)

    def _redeem_code(
        self, form: dict[str, str], *, cross_origin: bool
    ) -> tuple[DirectoryUser, tuple[str, ...], str | None]:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None:
            raise OAuthError(
                "invalid_grant",
                "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with "
                "a new valid code or use an existing refresh token.",
            )
        if grant.expires < time.time():
            raise OAuthError(
                "invalid_grant",
                "AADSTS70008: The provided authorization code or refresh token has expired.",
            )
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError(
                "invalid_grant",
                "AADSTS50011: The redirect URI does not match the one the code was issued for.",
            )
        if grant.challenge is None:
            if cross_origin:
                raise OAuthError(
                    "invalid_request",
                    "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin "
                    "authorization code redemption.",
                )
        elif not secrets.compare_digest(
            pkce_challenge(form.get("code_verifier", "")), grant.challenge
        ):
            raise OAuthError(
                "invalid_grant",
                "AADSTS50148: The code_verifier does not match the code_challenge supplied in "
                "the authorization request for PKCE.",
            )
        return grant.user, grant.scopes, grant.nonce

    def _redeem_refresh(self, form: dict[str, str]) -> DirectoryUser:
        with self._lock:
            session = self._sessions.pop(form.get("refresh_token", ""), None)
        if session is None or session.client_id != form.get("client_id"):
            raise OAuthError(
                "invalid_grant",
                "AADSTS9002313: Invalid request. Request is malformed or invalid.",
            )
        if session.expires < time.time():
            raise OAuthError(
                "invalid_grant",
                "AADSTS700084: The refresh token was issued to a single page app (SPA), and "
                "therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended.",
            )
        return session.user

    def _tokens(
        self, tenant: Tenant, user: DirectoryUser, scopes: Sequence[str], nonce: str | None
    ) -> dict[str, Any]:
        resource = self.resource_of(scopes)
        principal = user.principal
        refresh = secrets.token_urlsafe(64)
        with self._lock:
            self._sessions[refresh] = _Session(self.client_id, user, time.time() + REFRESH_LIFETIME)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": resource.response_scope,
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_LIFETIME - 1,
            "client_info": client_info(principal, tenant),
        }
        if resource.audience is not None:
            body["access_token"] = self._access_token(tenant, user, resource)
        if "openid" in {s.lower() for s in scopes}:
            body["id_token"] = mint_access_token(
                tenant,
                principal,
                audience=self.client_id,
                scopes=(),
                client_id=self.client_id,
                overrides={"nonce": nonce, "scp": None, "azp": None, "azpacr": None},
            )
        return body

    def _access_token(self, tenant: Tenant, user: DirectoryUser, resource: _Resource) -> str:
        if resource.audience == STORAGE_RESOURCE:
            # Storage takes v1 tokens; Entra issues its token in that form.
            v1 = {
                "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
                "ver": "1.0",
                "appid": self.client_id,
                "appidacr": "0",
                "upn": user.username,
                "unique_name": user.username,
                "azp": None,
                "azpacr": None,
                "preferred_username": None,
            }
            return mint_access_token(
                tenant,
                user.principal,
                audience=STORAGE_RESOURCE,
                scopes=resource.scopes,
                client_id=self.client_id,
                overrides=v1,
            )
        return mint_access_token(
            tenant,
            user.principal,
            audience=self.api_client_id,
            roles=user.roles,
            scopes=resource.scopes,
            client_id=self.client_id,
        )

    # -- logout ----------------------------------------------------------------------------

    def _logout(self, request: Request, tenant: Tenant) -> Response:
        target = request.args.get("post_logout_redirect_uri", "")
        if target and origin_of(target) in self.spa_origins:
            return Response(status=302, headers={"Location": target})
        return _page("Signed out", "<p>You signed out of your account.</p>", 200)


# -- responses ---------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json; charset=utf-8",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _cors(response: Response, origin: str | None) -> Response:
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _redirect(params: dict[str, str], answer: dict[str, str]) -> Response:
    separator = "?" if params.get("response_mode") == "query" else "#"
    return Response(
        status=302, headers={"Location": f"{params['redirect_uri']}{separator}{urlencode(answer)}"}
    )


def _redirect_error(params: dict[str, str], exc: OAuthError) -> Response:
    answer = oauth_error_body(exc.error, exc.description)
    if "state" in params:
        answer["state"] = params["state"]
    return _redirect(params, answer)


_STYLE = (
    "body{font-family:Segoe UI,system-ui,sans-serif;background:#f2f2f2;margin:0}"
    "main{background:#fff;max-width:440px;margin:64px auto;padding:44px;"
    "box-shadow:0 2px 6px rgba(0,0,0,.2)}"
    "input{display:block;width:100%;box-sizing:border-box;margin:8px 0 16px;padding:6px;"
    "border:0;border-bottom:1px solid #666;font-size:15px}"
    "button{background:#0067b8;color:#fff;border:0;padding:8px 32px;font-size:15px}"
    ".error{color:#e81123}.note{color:#666;font-size:13px}"
)


def _page(title: str, body: str, status: int) -> Response:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return Response(document, status=status, content_type="text/html; charset=utf-8")


def _login_form(query: str, username: str, error: str = "") -> Response:
    shown_error = f"<p class=error id=passwordError>{html.escape(error)}</p>" if error else ""
    body = (
        "<p class=note>localazure Entra stand-in (test tenant)</p>"
        f"{shown_error}"
        "<form method=post>"
        f"<input type=hidden name=query value='{html.escape(query, quote=True)}'>"
        "<label for=i0116>Email</label>"
        f"<input id=i0116 name=loginfmt type=email autocomplete=username "
        f"value='{html.escape(username, quote=True)}' required>"
        "<label for=i0118>Password</label>"
        "<input id=i0118 name=passwd type=password autocomplete=current-password required>"
        "<button id=idSIButton9 type=submit>Sign in</button>"
        "</form>"
    )
    return _page("Sign in", body, 200)
