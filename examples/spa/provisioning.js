// The SPA's side of the contract, for the browser (and Node 20+): enqueue a cluster request and
// follow its status. The queue trigger expects base64 of the JSON's UTF-8 bytes.

/** Base64 of the UTF-8 bytes of `text`. (`btoa(text)` alone throws on non-Latin-1 characters.) */
export function utf8Base64(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Send one request. `queueClient` is an `@azure/storage-queue` QueueClient for the
 * provisioning queue, authenticated with the user's Entra token (role: Storage Queue Data
 * Message Sender) or with a short-lived SAS handed out by a backend.
 */
export async function enqueueRequest(queueClient, request) {
  const body = JSON.stringify(request);
  if (new TextEncoder().encode(body).length > 16 * 1024) {
    throw new Error("a request may be at most 16 KiB of JSON");
  }
  await queueClient.sendMessage(utf8Base64(body));
  return request.request_id;
}

/**
 * Poll `GET {apiBase}/api/provisioning/{id}` until the request ends; `onPhase` sees each answer.
 * The endpoint's auth level is `function`: call it through a backend or API Management that adds
 * the `x-functions-key` header, rather than shipping the key to browsers.
 */
export async function followStatus(apiBase, requestId, { headers = {}, onPhase = () => {}, everyMs = 2000, timeoutMs = 3_600_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const response = await fetch(`${apiBase}/api/provisioning/${requestId}`, { headers });
    if (response.status === 200) {
      last = await response.json();
      onPhase(last);
      if (last.phase === "succeeded" || last.phase === "failed") return last;
    } else if (response.status !== 404) {
      throw new Error(`status endpoint answered ${response.status}: ${await response.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`request ${requestId} did not end in time; last status: ${JSON.stringify(last)}`);
}
