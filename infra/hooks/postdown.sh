#!/bin/sh
# azd postdown hook (azure.yaml): `azd down` deletes the app's resource group; the custom role and
# its assignment live at subscription scope, outside it, so they are removed here.
set -eu
scope="/subscriptions/${AZURE_SUBSCRIPTION_ID}"
az role assignment delete --role "$AZURE_PROVISIONER_ROLE_ID" --scope "$scope" || true
# --name takes the definition's GUID, the last segment of its resource id.
az role definition delete --name "${AZURE_PROVISIONER_ROLE_ID##*/}" --scope "$scope"
echo "postdown: clusters the app created are not removed; list them with" >&2
echo "  az group list --tag managed-by=aks-provisioner --query \"[].name\" -o tsv" >&2
