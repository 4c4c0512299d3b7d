"""aks-provisioner: turn a queued cluster request into an AKS cluster, one check per invocation.

The public surface for scripts and tests is small: the request contract and the client helpers.
The Functions wiring lives in ``provisioning.triggers`` (a blueprint ``function_app.py``
registers).
"""

from provisioning.client import redrive, submit
from provisioning.contract import ClusterRequest, example_request, parse_request
from provisioning.errors import InvalidRequest

__all__ = [
    "ClusterRequest",
    "InvalidRequest",
    "example_request",
    "parse_request",
    "redrive",
    "submit",
]
