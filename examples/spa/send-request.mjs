// Runnable from Node against Azurite or a real account:
//   STORAGE_CONNECTION_STRING=… QUEUE_NAME=cluster-provisioning API_BASE=http://127.0.0.1:7071 \
//   SUBSCRIPTION_ID=… node examples/spa/send-request.mjs
// In the browser, build the QueueClient from the account's queue URL and an Entra credential
// (InteractiveBrowserCredential) or a SAS URL instead of a connection string; the storage
// account then needs a CORS rule allowing the SPA's origin to POST to the queue service.
import { QueueClient } from "@azure/storage-queue";
import { enqueueRequest, followStatus } from "./provisioning.js";

const env = process.env;
const queue = new QueueClient(env.STORAGE_CONNECTION_STRING, env.QUEUE_NAME ?? "cluster-provisioning");
const request = {
  request_id: crypto.randomUUID(),
  subscription_id: env.SUBSCRIPTION_ID ?? "00000000-0000-0000-0000-000000000000",
  resource_group: env.RESOURCE_GROUP ?? "rg-spa-example",
  location: "West Europe",
  cluster: { name: "aks-spa", node_count: 1 },
  // A value outside Latin-1: why the body is base64 of its UTF-8 bytes, not btoa() of the string.
  tags: { team: "élan-数据" },
};
const id = await enqueueRequest(queue, request);
console.log(`queued ${id}`);
if (env.API_BASE) {
  // The status route takes an Entra ID access token for the API (README, "Status API").
  const headers = env.ACCESS_TOKEN ? { Authorization: `Bearer ${env.ACCESS_TOKEN}` } : {};
  const done = await followStatus(env.API_BASE, id, {
    headers,
    everyMs: 500,
    timeoutMs: Number(env.TIMEOUT_MS ?? 120000),
    onPhase: (s) => console.log(`${s.updated_at} ${s.phase} attempt ${s.attempt}/${s.max_attempts}`),
  });
  console.log(JSON.stringify(done));
}
