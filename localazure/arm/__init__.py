"""An HTTPS stand-in for Azure Resource Manager, AKS and App Service managed identity.

Tests and the demo point unmodified SDK clients at it through ``ArmEmulator.env()``.
"""

from localazure.arm.scenario import Fault, FaultKind
from localazure.arm.server import ArmEmulator
from localazure.arm.store import DEFAULT_SUBSCRIPTION, Call

__all__ = ["DEFAULT_SUBSCRIPTION", "ArmEmulator", "Call", "Fault", "FaultKind"]
