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

    def __init__(
        self,
        key: str,
        expected: bool,
        *,
        name: str,
        check_id: str,
        category: CheckCategories,
        resource: str,
    ) -> None:
        self.key = key
        self.expected = expected
        super().__init__(
            name=name, id=check_id, categories=(category,), supported_resources=(resource,)
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = [f"properties/{self.key}"]
        value = _properties(conf).get(self.key)
        # pycep gives literals as Python values; anything else (an expression) is not proof.
        if isinstance(value, bool) and value is self.expected:
            return CheckResult.PASSED
        return CheckResult.FAILED


# Creating a check registers it with checkov.
_ExplicitProperty(
    "allowSharedKeyAccess",
    False,
    name="Storage account disables shared-key access (allowSharedKeyAccess: false)",
    check_id="CKV_AKSPROV_1",
    category=CheckCategories.IAM,
    resource="Microsoft.Storage/storageAccounts",
)
_ExplicitProperty(
    "allowBlobPublicAccess",
    False,
    name="Storage account disables anonymous blob access (allowBlobPublicAccess: false)",
    check_id="CKV_AKSPROV_2",
    category=CheckCategories.GENERAL_SECURITY,
    resource="Microsoft.Storage/storageAccounts",
)
_ExplicitProperty(
    "DisableLocalAuth",
    True,
    name="Application Insights accepts Entra ID ingestion only (DisableLocalAuth: true)",
    check_id="CKV_AKSPROV_3",
    category=CheckCategories.IAM,
    resource="Microsoft.Insights/components",
)
