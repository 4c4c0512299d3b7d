// The mission's direct path: drop the request on the provisioning queue with the signed-in
// user's own Storage token (role: Storage Queue Data Message Sender). No key, no SAS.
import { QueueClient } from "@azure/storage-queue";

import { MAX_MESSAGE_BYTES, utf8Base64, utf8Length } from "./encoding.js";

/** A TokenCredential over MSAL for `https://storage.azure.com/user_impersonation`. */
export function storageCredential(auth, scope) {
  return {
    async getToken() {
      const result = await auth.acquire(scope);
      return { token: result.accessToken, expiresOnTimestamp: result.expiresOn.getTime() };
    },
  };
}

/** Send one request on a QueueClient: base64 of the UTF-8 JSON, at most 16 KiB of JSON. */
export async function sendRequest(queueClient, request) {
  const body = JSON.stringify(request);
  if (utf8Length(body) > MAX_MESSAGE_BYTES) throw new Error("a request may be at most 16 KiB of JSON");
  await queueClient.sendMessage(utf8Base64(body));
  return request.request_id;
}

export function enqueue(queueUrl, credential, request) {
  return sendRequest(new QueueClient(queueUrl, credential), request);
}
