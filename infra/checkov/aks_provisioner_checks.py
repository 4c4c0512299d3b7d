"""Custom checkov checks for the Bicep in infra/: what checkov's own checks do not cover.

Loaded with ``checkov --framework bicep --external-checks-dir infra/checkov``. Each check wants the
property set explicitly: an omitted property means the platform default, which is the unsafe one.
"""

from __future__ import annotations

from typing import Any

from checkov.bicep.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


def _properties(conf: dict[str, Any]) -> dict[str, Any]:
    properties = conf.get("properties")
    return properties if isinstance(properties, dict) else {}


class _ExplicitProperty(BaseResourceCheck):
    """Passes only when ``properties.<key>`` is the literal ``expected`` value."""

    key = ""
    expected: object = None

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [f"properties/{self.key}"]
        value = _properties(conf).get(self.key)
        # pycep gives literals as Python values; anything else (an expression) is not proof.
        if isinstance(value, bool) and value is self.expected:
            return CheckResult.PASSED
        return CheckResult.FAILED


class StorageSharedKeyAccessDisabled(_ExplicitProperty):
    key = "allowSharedKeyAccess"
    expected = False

    def __init__(self) -> None:
        super().__init__(
            name="Storage account disables shared-key access (allowSharedKeyAccess: false)",
            id="CKV_AKSPROV_1",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Storage/storageAccounts",),
        )


class StorageBlobPublicAccessDisabled(_ExplicitProperty):
    key = "allowBlobPublicAccess"
    expected = False

    def __init__(self) -> None:
        super().__init__(
            name="Storage account disables anonymous blob access (allowBlobPublicAccess: false)",
            id="CKV_AKSPROV_2",
            categories=(CheckCategories.GENERAL_SECURITY,),
            supported_resources=("Microsoft.Storage/storageAccounts",),
        )


class AppInsightsLocalAuthDisabled(_ExplicitProperty):
    key = "DisableLocalAuth"
    expected = True

    def __init__(self) -> None:
        super().__init__(
            name="Application Insights accepts Entra ID ingestion only (DisableLocalAuth: true)",
            id="CKV_AKSPROV_3",
            categories=(CheckCategories.IAM,),
            supported_resources=("Microsoft.Insights/components",),
        )


StorageSharedKeyAccessDisabled()
StorageBlobPublicAccessDisabled()
AppInsightsLocalAuthDisabled()
