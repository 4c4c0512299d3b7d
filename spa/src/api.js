// The front door: POST /api/provisioning, then follow Location, waiting Retry-After each time
// (the Asynchronous Request-Reply pattern). Every call carries the user's bearer token.

export const TERMINAL = new Set(["succeeded", "failed"]);
const DEFAULT_RETRY_SECONDS = 2;
const MAX_RETRY_SECONDS = 30;

export class ApiError extends Error {
  constructor(status, error) {
    super(`${status} ${error?.code ?? ""}: ${error?.message ?? ""}`);
    this.status = status;
    this.code = error?.code;
    this.error = error ?? {};
  }

  /** The 400's bad fields as [{field, reason}] (from `details`: "field: reason"). */
  get fieldProblems() {
    if (Array.isArray(this.error.fields)) return this.error.fields;
    return (this.error.details ?? []).map((line) => {
      const cut = line.indexOf(": ");
      return cut < 0 ? { field: "$", reason: line } : { field: line.slice(0, cut), reason: line.slice(cut + 2) };
    });
  }
}

/** Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), bounded. */
export function retryAfterSeconds(header, now = Date.now()) {
  if (!header) return DEFAULT_RETRY_SECONDS;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - now) / 1000;
  if (!Number.isFinite(seconds)) return DEFAULT_RETRY_SECONDS;
  return Math.min(Math.max(seconds, 0), MAX_RETRY_SECONDS);
}

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

export class FrontDoor {
  /** `token()` resolves to an access token for the API's scope. */
  constructor(apiBase, token) {
    this.apiBase = apiBase.replace(/\/$/, "");
    this.token = token;
  }

  async call(url, init = {}) {
    const headers = { Authorization: `Bearer ${await this.token()}`, ...(init.headers ?? {}) };
    const response = await fetch(url, { ...init, headers });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body?.error);
    return { response, body };
  }

  /** Submit a request: {status, location, retryAfter} from the 202. */
  async submit(request) {
    const { response, body } = await this.call(`${this.apiBase}/api/provisioning`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const location = response.headers.get("Location");
    if (!location) {
      // A cross-origin page reads Location only if the API lists it in Access-Control-Expose-Headers.
      throw new Error("the 202 carries no Location this page can read (Access-Control-Expose-Headers)");
    }
    return {
      status: body,
      location: new URL(location, this.apiBase).href,
      retryAfter: retryAfterSeconds(response.headers.get("Retry-After")),
    };
  }

  /** Follow a status URL until the request ends; `onStatus` sees every answer. */
  async follow(location, { retryAfter = DEFAULT_RETRY_SECONDS, onStatus = () => {}, notFoundFor = 60 } = {}) {
    let wait = retryAfter;
    const started = Date.now();
    for (;;) {
      await sleep(wait);
      try {
        const { response, body } = await this.call(location);
        onStatus(body, { location, retryAfter: wait });
        if (TERMINAL.has(body.phase)) return body;
        wait = retryAfterSeconds(response.headers.get("Retry-After"));
      } catch (error) {
        // A queued request has no record until the worker's first pass: 404 for a moment.
        if (!(error instanceof ApiError && error.status === 404)) throw error;
        if (Date.now() - started > notFoundFor * 1000) throw error;
        wait = DEFAULT_RETRY_SECONDS;
      }
    }
  }

  /** The caller's own requests, newest first: {items, continuation}. */
  async mine(continuation) {
    const url = new URL(`${this.apiBase}/api/provisioning`);
    if (continuation) url.searchParams.set("continuation", continuation);
    const { body } = await this.call(url.href);
    const items = Array.isArray(body) ? body : (body?.value ?? body?.items ?? body?.requests ?? []);
    return { items, continuation: body?.continuation ?? null };
  }
}
