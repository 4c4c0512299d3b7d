// The app's resource group: identity, storage, monitoring, the Flex Consumption plan and the
// function app, their role assignments, the workbook and the alerts. Deployed by main.bicep.
targetScope = 'resourceGroup'

param location string
param tags object
param resourceToken string
param environmentName string
param identityName string
param alertEmailAddress string
param failureRateThresholdPercent int
// The deployer's object id (azd's principalId); empty: no assignment.
param deployerPrincipalId string
param maximumInstanceCount int
param instanceMemoryMB int

// The app's own settings; main.bicep documents each one and holds its default.
param provisioningQueueName string
param statusTableName string
param poisonArchiveTableName string
param armEndpoint string
param rgVisibilityAttempts int
param rgVisibilityDelaySeconds int
param transientRetries int
param allowedSubscriptions string
param allowedLocations string
param resourceGroupPrefix string
param maxNodeCount int
param adoptExistingResourceGroups bool
param clusterWatchDelaySeconds int
param clusterCreateTimeoutMinutes string
param aksRgNotFoundRetries int
param rgDeletingWaitMinutes string
param rgDeletingDelaySeconds int
param providerRegistrationDelaySeconds int
param requesterTableName string
param allowedVmSizes string
param maxInFlightPerRequester int
param requestPolicy string
param entraTenantId string
param entraApiAudience string
param entraAuthorityHost string
@description('Object ids trusted to send messages straight to the request queue (Message Sender on it).')
param trustedQueueSenders array
@description('Origins of the SPA: allowed by the site\'s CORS (the front door) and by the queue service\'s CORS rule (the SPA\'s direct mode).')
param spaOrigins array
param sweeperSchedule string
param sweeperOverdueMinutes string
param statusRetentionDays int
param storageRetrySeconds int

var storageAccountName = 'st${resourceToken}'
var functionAppName = 'func-${environmentName}-${resourceToken}'
var deploymentContainerName = 'app-package'

// Built-in role definition IDs (the same GUID in every tenant).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var storageQueueDataMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a'
var storageQueueDataReader = '19e7f393-937e-4f77-808e-94535e297925'
var storageTableDataReader = '76199698-9eea-4c19-bc75-cec21354c6b6'

// ---------------------------------------------------------------- identity

// One user-assigned identity for everything: host storage, deployment storage, App Insights
// ingestion, and the ARM calls (AZURE_CLIENT_ID points DefaultAzureCredential at it).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

// ---------------------------------------------------------------- storage

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = { // checkov:skip=CKV_AZURE_35: no VNet in this deployment, so the Flex app reaches storage over the public endpoint; access needs an Entra token with a data role (shared keys are off)
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: disabling public network access needs VNet integration and private endpoints, which this deployment does not create
  // checkov:skip=CKV_AZURE_43: false positive: the name is 'st' plus uniqueString(), which checkov cannot evaluate; it is 15 lowercase letters and digits
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    // Geo-redundant: the status table and poison archive are the app's only record of requests.
    name: 'Standard_GRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Flex Consumption pulls the app's package from this container, through the identity.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // The SPA's direct mode: a browser sends one message (POST) with the user's own token.
    cors: {
      corsRules: empty(spaOrigins) ? [] : [
        {
          allowedOrigins: spaOrigins
          allowedMethods: [
            'POST'
          ]
          allowedHeaders: [
            'authorization'
            'content-type'
            'x-ms-*'
          ]
          exposedHeaders: [
            'x-ms-*'
          ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource requestQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: provisioningQueueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${provisioningQueueName}-poison'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource statusTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: statusTableName
}

resource poisonArchiveTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: poisonArchiveTableName
}

resource requesterTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: requesterTableName
}

// ---------------------------------------------------------------- monitoring

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

// ---------------------------------------------------------------- plan and app

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = { // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption is available only in some regions and needs always-ready instances; the queue keeps requests through a zone outage
  name: 'plan-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Flex Consumption rejects ftpsState, linuxFxVersion and functionAppScaleLimit (ARM error 51021),
// and deprecates FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE:
// runtime, version and package location live in functionAppConfig instead.
resource functionApp 'Microsoft.Web/sites@2024-04-01' = { // checkov:skip=CKV_AZURE_78: checks siteConfig.ftpsState, which Flex Consumption rejects (ARM error 51021); FTP publishing is off through basicPublishingCredentialsPolicies 'ftp'
  // checkov:skip=CKV_AZURE_222: the status route is called from the browser and there is no VNet; it needs a function key, and the queue trigger takes no inbound traffic
  // checkov:skip=CKV_AZURE_17: client certificates would break the browser's calls to the status route, which a function key protects
  // checkov:skip=CKV_AZURE_212: checks siteConfig.numberOfWorkers, a dedicated-plan setting; Flex Consumption scales instances per load (maximumInstanceCount)
  // checkov:skip=CKV_AZURE_213: health check probes an HTTP path to rotate instances out of a load balancer; work arrives by queue, and a probe would keep a scale-to-zero app awake
  name: functionAppName
  location: location
  // azd deploys the service "api" of azure.yaml to the resource carrying this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  // Created after the role assignments, so the host's first start finds its storage roles granted.
  dependsOn: [
    blobOwner
    queueContributor
    tableContributor
    metricsPublisher
    requestQueue
    poisonQueue
    statusTable
    poisonArchiveTable
  ]
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      // The SPA's origins (the front door reads a bearer token, not cookies: no credentials).
      cors: {
        allowedOrigins: spaOrigins
        supportCredentials: false
      }
      // Every app setting. tests/infra/test_settings_agree.py reads this list: it must hold every
      // setting the code reads, and nothing Flex deprecates.
      appSettings: [
        // Host and app storage through the identity. A user-assigned identity needs both
        // __credential and __clientId, or the scale controller cannot wake the app from zero.
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: storage.properties.primaryEndpoints.blob
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: storage.properties.primaryEndpoints.queue
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: storage.properties.primaryEndpoints.table
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        // DefaultAzureCredential (the ARM client) picks the user-assigned identity by this.
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        // App Insights with local auth off: ingestion authenticates as the identity.
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        // The Python worker exports its own logs through OpenTelemetry, so each record's extra
        // fields (request_id, phase, attempt, outcome, error_code) become customDimensions; the host
        // stays in its default telemetry mode (docs/monitoring.md gives the reasons).
        {
          name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY'
          value: 'true'
        }
        // Only the app's own loggers (provisioning, provisioning.*) are exported; the Azure SDKs'
        // per-request lines are not.
        {
          name: 'PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME'
          value: 'provisioning'
        }
        // The host's own Azure SDK clients (the queue trigger's) log every request at Information.
        {
          name: 'AzureFunctionsJobHost__logging__logLevel__Azure.Core'
          value: 'Warning'
        }
        // The app's settings (provisioning/settings.py).
        {
          name: 'PROVISIONING_QUEUE_NAME'
          value: provisioningQueueName
        }
        {
          name: 'STATUS_TABLE_NAME'
          value: statusTableName
        }
        {
          name: 'POISON_ARCHIVE_TABLE_NAME'
          value: poisonArchiveTableName
        }
        {
          name: 'ARM_ENDPOINT'
          value: armEndpoint
        }
        {
          name: 'RG_VISIBILITY_ATTEMPTS'
          value: string(rgVisibilityAttempts)
        }
        {
          name: 'RG_VISIBILITY_DELAY_SECONDS'
          value: string(rgVisibilityDelaySeconds)
        }
        {
          name: 'TRANSIENT_RETRIES'
          value: string(transientRetries)
        }
        {
          name: 'ALLOWED_SUBSCRIPTIONS'
          value: allowedSubscriptions
        }
        {
          name: 'ALLOWED_LOCATIONS'
          value: allowedLocations
        }
        {
          name: 'RESOURCE_GROUP_PREFIX'
          value: resourceGroupPrefix
        }
        {
          name: 'MAX_NODE_COUNT'
          value: string(maxNodeCount)
        }
        {
          name: 'ADOPT_EXISTING_RESOURCE_GROUPS'
          value: adoptExistingResourceGroups ? 'true' : 'false'
        }
        {
          name: 'CLUSTER_WATCH_DELAY_SECONDS'
          value: string(clusterWatchDelaySeconds)
        }
        {
          name: 'CLUSTER_CREATE_TIMEOUT_MINUTES'
          value: clusterCreateTimeoutMinutes
        }
        {
          name: 'AKS_RG_NOT_FOUND_RETRIES'
          value: string(aksRgNotFoundRetries)
        }
        {
          name: 'RG_DELETING_WAIT_MINUTES'
          value: rgDeletingWaitMinutes
        }
        {
          name: 'RG_DELETING_DELAY_SECONDS'
          value: string(rgDeletingDelaySeconds)
        }
        {
          name: 'PROVIDER_REGISTRATION_DELAY_SECONDS'
          value: string(providerRegistrationDelaySeconds)
        }
        {
          name: 'SWEEPER_SCHEDULE'
          value: sweeperSchedule
        }
        {
          name: 'SWEEPER_OVERDUE_MINUTES'
          value: sweeperOverdueMinutes
        }
        {
          name: 'STATUS_RETENTION_DAYS'
          value: string(statusRetentionDays)
        }
        // Who may ask for what (docs/identity.md).
        {
          name: 'REQUESTER_TABLE_NAME'
          value: requesterTableName
        }
        {
          name: 'ALLOWED_VM_SIZES'
          value: allowedVmSizes
        }
        {
          name: 'MAX_IN_FLIGHT_PER_REQUESTER'
          value: string(maxInFlightPerRequester)
        }
        {
          name: 'REQUEST_POLICY'
          value: requestPolicy
        }
        {
          name: 'ENTRA_TENANT_ID'
          value: entraTenantId
        }
        {
          name: 'ENTRA_API_AUDIENCE'
          value: entraApiAudience
        }
        {
          name: 'ENTRA_AUTHORITY_HOST'
          value: entraAuthorityHost
        }
        {
          name: 'STORAGE_RETRY_SECONDS'
          value: string(storageRetrySeconds)
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// FTP and SCM basic-auth publishing off: publishing goes through Entra ID only.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// ---------------------------------------------------------------- role assignments

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageBlobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageQueueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageTableDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer may try the app (README, "Try it in Azure"): send requests on the request queue,
// and read the queues and tables (follow a request, peek at the poison queue, re-drive, and pass
// the preflight's storage checks in the postdeploy hook). Nothing else is writable. No
// principalType: the same template serves a user (azd up) and CI's service principal.
resource deployerQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: requestQueue
  name: guid(requestQueue.id, deployerPrincipalId, storageQueueDataMessageSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataMessageSender)
    principalId: deployerPrincipalId
    description: 'The deployer (azd principalId): send requests.'
  }
}

// Principals trusted to drop requests straight on the queue (governed by REQUEST_POLICY's
// "$queue" rule): send rights on the request queue only. The app's identity sends through its
// own assignment above; nobody else may add messages.
resource trustedQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for sender in trustedQueueSenders: {
  scope: requestQueue
  name: guid(requestQueue.id, sender, storageQueueDataMessageSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataMessageSender)
    principalId: sender
    description: 'A trusted sender of direct queue requests (trustedQueueSenders).'
  }
}]

resource deployerQueueReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: storage
  name: guid(storage.id, deployerPrincipalId, storageQueueDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataReader)
    principalId: deployerPrincipalId
    description: 'The deployer (azd principalId): peek at the request and poison queues.'
  }
}

resource deployerTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: storage
  name: guid(storage.id, deployerPrincipalId, storageTableDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataReader)
    principalId: deployerPrincipalId
    description: 'The deployer (azd principalId): read status records and the poison archive.'
  }
}

// ---------------------------------------------------------------- alerts and workbook

resource alertGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: 'ag-${environmentName}-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('aksprov${resourceToken}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

// The alerts' queries are docs/operations.kql's, in infra/alerts/*.kql (tests/infra/test_kql.py
// parses them against the App Insights schema and checks they match the catalogue). Each has a
// runbook line in the README ("Monitor"). traces has no rows until the app has logged once, hence
// skipQueryValidation.

// One row per body the poison trigger archived (poison.py's "poisoned" line), split by error code.
resource poisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-poison-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AKS provisioner: poison-queue arrivals'
    description: 'A request body reached the poison queue and was archived in the ${poisonArchiveTableName} table. Runbook: README, Monitor.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      appInsights.id
    ]
    skipQueryValidation: true
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: loadTextContent('alerts/poison.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'ErrorCode'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmailAddress) ? [] : [
        alertGroup.id
      ]
    }
  }
}

// A message reached "<queue>-poison-poison": the poison trigger itself failed maxDequeueCount
// times (the WebJobs SDK's "Message has reached MaxDequeueCount" warning, or the sweeper's
// "poison_poison" line when it drains the body into the archive).
resource poisonOfPoisonAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-poison-poison-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AKS provisioner: poison-of-poison arrivals'
    description: 'A message reached ${provisioningQueueName}-poison-poison: the poison trigger could not archive it. Runbook: README, Monitor.'
    severity: 1
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    scopes: [
      appInsights.id
    ]
    skipQueryValidation: true
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: loadTextContent('alerts/poison-of-poison.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmailAddress) ? [] : [
        alertGroup.id
      ]
    }
  }
}

// A request whose last line is in a non-terminal phase older than that phase's bound, or that the
// sweeper re-armed; one alert per request.
resource overdueAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-overdue-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AKS provisioner: overdue requests'
    description: 'A request has not moved past ensuring_resource_group or creating_cluster within its bound, or the sweeper re-armed it. Runbook: README, Monitor.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    // The query reaches back two days itself (a request silent since then is still overdue).
    overrideQueryTimeRange: 'P2D'
    scopes: [
      appInsights.id
    ]
    skipQueryValidation: true
    // Stateful: one alert per request, resolved once the request moves on.
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: loadTextContent('alerts/overdue.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'request_id'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmailAddress) ? [] : [
        alertGroup.id
      ]
    }
  }
}

// Of the requests that ended in the last hour (at least 5), the percentage that failed.
resource failureRateAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-failure-rate-${environmentName}-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'AKS provisioner: failure rate'
    description: 'More than ${failureRateThresholdPercent} % of the requests that ended in the last hour failed. Runbook: README, Monitor.'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    scopes: [
      appInsights.id
    ]
    skipQueryValidation: true
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: loadTextContent('alerts/failure-rate.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failure_rate_percent'
          operator: 'GreaterThan'
          threshold: failureRateThresholdPercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmailAddress) ? [] : [
        alertGroup.id
      ]
    }
  }
}

// The operator's view, in the App Insights resource's Workbooks: every item is a query of
// docs/operations.kql (tests/infra/test_kql.py checks they match).
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'aks-provisioner-workbook', environmentName)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'AKS provisioner (${environmentName})'
    category: 'workbook'
    sourceId: appInsights.id
    // Opened from Monitor › Workbooks too, it queries this App Insights resource.
    serializedData: replace(loadTextContent('workbook.json'), '"fallbackResourceIds": []', '"fallbackResourceIds": ["${appInsights.id}"]')
    version: 'Notebook/1.0'
  }
}

output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output functionAppName string = functionApp.name
output functionAppId string = functionApp.id
output storageAccountName string = storage.name
output functionAppHostName string = functionApp.properties.defaultHostName
output appInsightsName string = appInsights.name
output workbookId string = workbook.id
