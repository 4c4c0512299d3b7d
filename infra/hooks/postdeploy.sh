#!/bin/sh
# azd postdeploy hook (azure.yaml): sync the triggers, then run the read-only preflight
# (docs/preflight.md) with the deployed app's settings. azd exports the Bicep outputs (AZURE_*).
set -eu

# A Flex app scaled to zero wakes only for the triggers the platform knows about.
az rest --method post \
  --url "https://management.azure.com${AZURE_FUNCTION_APP_ID}/syncfunctiontriggers?api-version=2024-04-01"
az functionapp function list --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "$AZURE_FUNCTION_APP_NAME" --query "[].name" -o tsv

# The app's own settings, less the ones that select its managed identity: here the credential is
# the deployer's Azure CLI login (the preflight's permission rows then describe the deployer).
# The preflight needs the app's pinned requirements: the project's venv, never the system python3
# (which lacks them and would fail with an ImportError that says nothing of the cause).
PYTHON=.venv/bin/python
if [ ! -x "$PYTHON" ]; then
  echo "postdeploy: $PYTHON is missing, so the preflight cannot run (the app is deployed and its triggers synced). Create the venv as the README says (python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt, or make deps), then run: azd hooks run postdeploy" >&2
  exit 1
fi
settings=$(mktemp)
trap 'rm -f "$settings"' EXIT
az functionapp config appsettings list --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "$AZURE_FUNCTION_APP_NAME" -o json | "$PYTHON" infra/hooks/app_settings.py > "$settings"
if ! "$PYTHON" -m provisioning --settings "$settings" preflight; then
  echo "postdeploy: the preflight found problems (above); the app is deployed, fix them before sending requests" >&2
  exit 1
fi
