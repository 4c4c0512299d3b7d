// Entry point (subscription scope): the app's resource group, the provisioner's custom role at
// subscription scope, and everything else through app.bicep (resource-group scope).
//
//   azd up    (azure.yaml; azd fills environmentName, location and principalId)
//   az deployment sub create --location <region> --template-file infra/main.bicep \
//     --parameters @infra/main.parameters.json --parameters environmentName=<name> ...
//     (docs/deploy.md, "Deploy the infrastructure without azd")
//
// Raw resource types only: no registry modules, so the offline checks (tree-sitter-bicep and
// checkov) see every resource. No .bicepparam: no offline tool parses it.
targetScope = 'subscription'

@minLength(1)
@maxLength(20)
@description('Short name of this deployment; it names the resource group and seeds every other name.')
param environmentName string

@minLength(1)
@description('Region of the resource group and of every resource in it (a region with Flex Consumption).')
param location string

@description('Object id of whoever deploys (azd passes the signed-in principal): gets Storage Queue Data Message Sender on the request queue to send a first request. Empty skips it.')
param principalId string = ''

@description('Name of the app\'s resource group; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Email address for the alerts; empty deploys them without a notification.')
param alertEmailAddress string = ''

@minValue(1)
@maxValue(100)
@description('Failure-rate alert: percentage of the requests ended in the last hour (at least 5 of them) that failed, above which it fires.')
param failureRateThresholdPercent int = 20


@minValue(40)
@maxValue(1000)
@description('Flex Consumption: most instances the app scales out to.')
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption: memory of each instance, in MB.')
param instanceMemoryMB int = 2048

// ---- The app's own settings (provisioning/settings.py), each with the code's default. ----

@description('PROVISIONING_QUEUE_NAME: the request queue; "<name>-poison" is its poison queue.')
@minLength(3)
@maxLength(56)
param provisioningQueueName string = 'cluster-provisioning'

@description('STATUS_TABLE_NAME: the table of status records.')
@minLength(3)
@maxLength(63)
param statusTableName string = 'provisioningstatus'

@description('POISON_ARCHIVE_TABLE_NAME: the table that keeps every poisoned body for re-drive.')
@minLength(3)
@maxLength(63)
param poisonArchiveTableName string = 'provisioningpoison'

@description('ARM_ENDPOINT: the Resource Manager endpoint (https, no query).')
param armEndpoint string = 'https://management.azure.com'

@description('RG_VISIBILITY_ATTEMPTS: checks for a new resource group to become visible.')
@minValue(1)
@maxValue(100)
param rgVisibilityAttempts int = 12

@description('RG_VISIBILITY_DELAY_SECONDS: delay between two visibility checks.')
@minValue(1)
@maxValue(900)
param rgVisibilityDelaySeconds int = 5

@description('TRANSIENT_RETRIES: retries of a transient ARM failure before the request fails.')
@minValue(0)
@maxValue(100)
param transientRetries int = 10

@description('ALLOWED_SUBSCRIPTIONS: comma-separated subscription GUIDs requests may target. Empty here means the deployment\'s own subscription, the only one the custom role covers.')
param allowedSubscriptions string = ''

@description('ALLOWED_LOCATIONS: comma-separated regions requests may use; empty allows any.')
param allowedLocations string = ''

@description('RESOURCE_GROUP_PREFIX: prefix every requested resource group name must carry; empty allows any.')
@maxLength(40)
param resourceGroupPrefix string = ''

@description('MAX_NODE_COUNT: the largest node count a request may ask for.')
@minValue(1)
@maxValue(1000)
param maxNodeCount int = 100

@description('ADOPT_EXISTING_RESOURCE_GROUPS: let requests use resource groups this app did not create.')
param adoptExistingResourceGroups bool = false

@description('CLUSTER_WATCH_DELAY_SECONDS: delay between two checks of a cluster being created.')
@minValue(1)
@maxValue(900)
param clusterWatchDelaySeconds int = 30

@description('CLUSTER_CREATE_TIMEOUT_MINUTES: how long a cluster may take to create (fractions allowed).')
param clusterCreateTimeoutMinutes string = '60'

@description('AKS_RG_NOT_FOUND_RETRIES: returns to the visibility check when AKS cannot see the group yet.')
@minValue(0)
@maxValue(20)
param aksRgNotFoundRetries int = 3

@description('RG_DELETING_WAIT_MINUTES: how long to wait for a resource group being deleted (fractions allowed).')
param rgDeletingWaitMinutes string = '30'

@description('RG_DELETING_DELAY_SECONDS: delay between two checks of a group being deleted.')
@minValue(1)
@maxValue(900)
param rgDeletingDelaySeconds int = 30

@description('PROVIDER_REGISTRATION_DELAY_SECONDS: delay after requesting Microsoft.ContainerService registration.')
@minValue(1)
@maxValue(900)
param providerRegistrationDelaySeconds int = 30

@description('REQUESTER_TABLE_NAME: the table of per-requester in-flight slots and request listings.')
@minLength(3)
@maxLength(63)
param requesterTableName string = 'provisioningrequesters'

@description('ALLOWED_VM_SIZES: comma-separated VM sizes any request may use (the cap of every REQUEST_POLICY rule).')
param allowedVmSizes string = 'Standard_D2s_v5,Standard_D4s_v5,Standard_D8s_v5,Standard_D2as_v5,Standard_D4as_v5,Standard_D8as_v5'

@description('MAX_IN_FLIGHT_PER_REQUESTER: requests one requester may have in flight (the cap of every rule\'s max_in_flight).')
@minValue(1)
@maxValue(1000)
param maxInFlightPerRequester int = 5

@description('REQUEST_POLICY: JSON keyed by app role (and "$queue"): subscriptions, locations, vm_sizes, max_node_count, max_in_flight per role. Empty: the global settings for Provisioning.Request and for queue messages. See docs/identity.md.')
param requestPolicy string = ''

@description('ENTRA_TENANT_ID: the tenant GUID of the API\'s app registration. Empty: the HTTP front door answers 503 (the queue works). docs/identity.md prints it.')
param entraTenantId string = ''

@description('ENTRA_API_AUDIENCE: comma-separated accepted aud values (the API app\'s client id and api://<client id>).')
param entraApiAudience string = ''

@description('ENTRA_AUTHORITY_HOST: the Entra authority; sovereign clouds set their own.')
param entraAuthorityHost string = 'https://login.microsoftonline.com'

@description('Comma-separated object ids of principals (besides the app and the deployer) trusted to send messages straight to the request queue; each gets Storage Queue Data Message Sender on that queue only.')
param trustedQueueSenders string = ''

@description('Comma-separated origins of the SPA (e.g. https://<name>.azurestaticapps.net): the function app\'s CORS and the queue service\'s CORS rule (the SPA\'s direct mode) allow them. Empty: no browser origin may call.')
param spaOrigins string = ''

@description('SWEEPER_SCHEDULE: NCRONTAB schedule of the sweeper (six fields, seconds first).')
param sweeperSchedule string = '0 */5 * * * *'

@description('SWEEPER_OVERDUE_MINUTES: how late a running request may be before the sweeper re-arms it (fractions allowed).')
param sweeperOverdueMinutes string = '15'

@description('STATUS_RETENTION_DAYS: days an ended request\'s status record and archived bodies are kept.')
@minValue(1)
@maxValue(3650)
param statusRetentionDays int = 90

@description('STORAGE_RETRY_SECONDS: how long a message waits after a storage error on its first delivery; doubled at each delivery.')
@minValue(1)
@maxValue(900)
param storageRetrySeconds int = 60

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var groupName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
var identityName = 'id-${environmentName}-${resourceToken}'
var tags = {
  'app': 'aks-provisioner'
  'environment': environmentName
  // azd finds the environment's resource group by this tag.
  'azd-env-name': environmentName
}

resource appGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: groupName
  location: location
  tags: tags
}

// The provisioner's only rights outside its own group: create and read resource groups (a
// subscription-level action, hence subscription scope), create and read AKS clusters, and poll
// AKS's long-running operations. Nothing broader; docs/deploy.md ("Roles") says what this still allows.
resource provisionerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'aks-provisioner', environmentName)
  properties: {
    roleName: 'AKS Provisioner (${environmentName})'
    description: 'Create and read resource groups and AKS clusters, and read AKS operation status.'
    type: 'CustomRole'
    assignableScopes: [
      subscription().id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.Resources/subscriptions/resourceGroups/read'
          'Microsoft.Resources/subscriptions/resourceGroups/write'
          'Microsoft.ContainerService/managedClusters/read'
          'Microsoft.ContainerService/managedClusters/write'
          'Microsoft.ContainerService/locations/operations/read'
          'Microsoft.ContainerService/locations/operationresults/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

module app 'app.bicep' = {
  name: 'aks-provisioner-app'
  scope: appGroup
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    environmentName: environmentName
    identityName: identityName
    alertEmailAddress: alertEmailAddress
    failureRateThresholdPercent: failureRateThresholdPercent
    deployerPrincipalId: principalId
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    provisioningQueueName: provisioningQueueName
    statusTableName: statusTableName
    poisonArchiveTableName: poisonArchiveTableName
    armEndpoint: armEndpoint
    rgVisibilityAttempts: rgVisibilityAttempts
    rgVisibilityDelaySeconds: rgVisibilityDelaySeconds
    transientRetries: transientRetries
    allowedSubscriptions: empty(allowedSubscriptions) ? subscription().subscriptionId : allowedSubscriptions
    allowedLocations: allowedLocations
    resourceGroupPrefix: resourceGroupPrefix
    maxNodeCount: maxNodeCount
    adoptExistingResourceGroups: adoptExistingResourceGroups
    clusterWatchDelaySeconds: clusterWatchDelaySeconds
    clusterCreateTimeoutMinutes: clusterCreateTimeoutMinutes
    aksRgNotFoundRetries: aksRgNotFoundRetries
    rgDeletingWaitMinutes: rgDeletingWaitMinutes
    rgDeletingDelaySeconds: rgDeletingDelaySeconds
    providerRegistrationDelaySeconds: providerRegistrationDelaySeconds
    spaOrigins: empty(spaOrigins) ? [] : split(spaOrigins, ',')
    sweeperSchedule: sweeperSchedule
    sweeperOverdueMinutes: sweeperOverdueMinutes
    statusRetentionDays: statusRetentionDays
    requesterTableName: requesterTableName
    allowedVmSizes: allowedVmSizes
    maxInFlightPerRequester: maxInFlightPerRequester
    requestPolicy: requestPolicy
    entraTenantId: entraTenantId
    entraApiAudience: entraApiAudience
    entraAuthorityHost: entraAuthorityHost
    trustedQueueSenders: empty(trustedQueueSenders) ? [] : split(trustedQueueSenders, ',')
    storageRetrySeconds: storageRetrySeconds
  }
}

// The assignment's name must be known when the deployment starts, so it is derived from names,
// not from the identity's principal ID (a module output).
resource provisionerRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, provisionerRole.id, groupName, identityName)
  properties: {
    roleDefinitionId: provisionerRole.id
    principalId: app.outputs.identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'The AKS provisioner function app\'s user-assigned identity.'
  }
}

// azd stores every output in the environment (`azd env get-values`); the README and the hooks
// in azure.yaml read them by these names.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = appGroup.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.functionAppName
output AZURE_FUNCTION_APP_ID string = app.outputs.functionAppId
output AZURE_FUNCTION_APP_HOSTNAME string = app.outputs.functionAppHostName
output AZURE_STORAGE_ACCOUNT_NAME string = app.outputs.storageAccountName
output AZURE_PROVISIONING_QUEUE_NAME string = provisioningQueueName
output AZURE_IDENTITY_CLIENT_ID string = app.outputs.identityClientId
output AZURE_APPLICATION_INSIGHTS_NAME string = app.outputs.appInsightsName
output AZURE_WORKBOOK_ID string = app.outputs.workbookId
output AZURE_PROVISIONER_ROLE_ID string = provisionerRole.id
