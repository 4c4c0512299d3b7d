#!/bin/sh
# azd postdeploy hook (azure.yaml): sync the triggers, then run the read-only preflight with the
# deployment's settings. azd exports the Bicep outputs (AZURE_*) to this script's environment.
set -eu

# A Flex app scaled to zero wakes only for the triggers the platform knows about.
az rest --method post \
  --url "https://management.azure.com${AZURE_FUNCTION_APP_ID}/syncfunctiontriggers?api-version=2024-04-01"
az functionapp function list --resource-group "$AZURE_RESOURCE_GROUP" \
  --name "$AZURE_FUNCTION_APP_NAME" --query "[].name" -o tsv

# The preflight reads the subscription and the storage with the settings the app runs with; the
# credential here is the deployer's Azure CLI login, not the app's identity.
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
export AzureWebJobsStorage__accountName="$AZURE_STORAGE_ACCOUNT_NAME"
export PROVISIONING_QUEUE_NAME="$AZURE_PROVISIONING_QUEUE_NAME"
export ALLOWED_SUBSCRIPTIONS="${ALLOWED_SUBSCRIPTIONS:-$AZURE_SUBSCRIPTION_ID}"
if ! "$PYTHON" -m provisioning preflight; then
  echo "postdeploy: the preflight found problems (above); the app is deployed, fix them before sending requests" >&2
  exit 1
fi
