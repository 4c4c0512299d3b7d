"""aks-provisioner: turn a queued cluster request into an AKS cluster, one check per invocation.

The public surface for scripts and tests is small: the request contract and the client helpers.
The Functions wiring lives in ``provisioning.triggers`` (a blueprint ``function_app.py``
registers).
"""

from typing import TYPE_CHECKING, Any

from provisioning.contract import ClusterRequest, example_request, parse_request
from provisioning.errors import InvalidRequest

if TYPE_CHECKING:
    from provisioning.client import redrive, submit

__all__ = [
    "ClusterRequest",
    "InvalidRequest",
    "example_request",
    "parse_request",
    "redrive",
    "submit",
]


def __getattr__(name: str) -> Any:
    # The client helpers load the storage SDK; loading them on first use keeps an import of a
    # pure module (``provisioning.decisions``, ...) free of every SDK.
    if name in ("redrive", "submit"):
        from provisioning import client

        return getattr(client, name)
    raise AttributeError(f"module 'provisioning' has no attribute {name!r}")
