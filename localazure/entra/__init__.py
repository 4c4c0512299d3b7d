"""A local stand-in for Microsoft Entra ID (the v2.0 endpoint): OpenID metadata, JWKS, tokens.

Dev and test tool only; production code never imports it. It reaches the app by configuration
alone (``ENTRA_AUTHORITY_HOST``, ``ENTRA_TENANT_ID``, ``ENTRA_API_AUDIENCE``, and the test CA in
``REQUESTS_CA_BUNDLE``).

- :mod:`localazure.entra.keys`: the tenant's RS256 signing keys and their JWKS.
- :mod:`localazure.entra.mint`: :class:`Tenant`, :class:`Principal` and
  :func:`mint_access_token`, the one place that makes v2 access tokens (tests, the demo and any
  interactive endpoint mint through it).
- :mod:`localazure.entra.app`: the WSGI app (metadata, keys) with a route table other modules
  add to.
- :mod:`localazure.entra.server`: :class:`EntraStandIn`, that app over HTTPS in a thread.
"""

from localazure.entra.app import EntraApp
from localazure.entra.keys import SigningKey, SigningKeys
from localazure.entra.mint import (
    API_CLIENT_ID,
    CLIENT_APP_ID,
    TENANT_ID,
    Principal,
    Tenant,
    app_principal,
    mint_access_token,
    user_principal,
)
from localazure.entra.server import EntraStandIn

__all__ = [
    "API_CLIENT_ID",
    "CLIENT_APP_ID",
    "TENANT_ID",
    "EntraApp",
    "EntraStandIn",
    "Principal",
    "SigningKey",
    "SigningKeys",
    "Tenant",
    "app_principal",
    "mint_access_token",
    "user_principal",
]
