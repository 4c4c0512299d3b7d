// The SPA's side of the contract, for the browser (and Node 20+): enqueue a cluster request and
// follow its status. The queue trigger expects base64 of the JSON's UTF-8 bytes.

// The encoding and the send live in the SPA (spa/src/queue.js); this file keeps Node's example
// working with a QueueClient of its own (a connection string, or any credential).
export { sendRequest as enqueueRequest } from "../../spa/src/queue.js";
export { utf8Base64 } from "../../spa/src/encoding.js";

/**
 * Poll `GET {apiBase}/api/provisioning/{id}` until the request ends; `onPhase` sees each answer.
 * Pass `headers: { Authorization: "Bearer <access token for the API>" }`: the route validates
 * the Entra ID token itself (README, "Status API"). A message sent directly to the queue is
 * visible to `Provisioning.ReadAll` only; requests sent to `POST /api/provisioning` to their
 * sender too.
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
