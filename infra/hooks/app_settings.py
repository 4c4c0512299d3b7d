"""The deployed app's settings as a local.settings.json, for the postdeploy hook's preflight.

    az functionapp config appsettings list ... -o json | python infra/hooks/app_settings.py > f

Reads `az functionapp config appsettings list`'s JSON (a list of {"name", "value", ...}) and
writes {"IsEncrypted": false, "Values": {...}} without the settings that select the app's
managed identity: on a workstation the credential is the deployer's Azure CLI login.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

# Present only on the app, where a managed identity exists (storage.py and DefaultAzureCredential).
IDENTITY_SELECTORS = frozenset(
    {"AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId", "AZURE_CLIENT_ID"}
)


def local_settings(app_settings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    values = {
        str(setting["name"]): str(setting.get("value") or "")
        for setting in app_settings
        if setting["name"] not in IDENTITY_SELECTORS
    }
    return {"IsEncrypted": False, "Values": values}


def main() -> int:
    json.dump(local_settings(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
