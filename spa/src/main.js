// The page: sign in, fill the form, submit (front door or queue), follow, list my requests.
import schema from "../../schemas/provisioning-request.schema.json";

import { ApiError, FrontDoor, TERMINAL } from "./api.js";
import { STORAGE_SCOPE, createAuth } from "./auth.js";
import { renderForm } from "./form.js";
import { enqueue, storageCredential } from "./queue.js";
import { requestValidator } from "./schema-errors.js";

const $ = (selector) => document.querySelector(selector);
const time = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function show(selector, visible) {
  $(selector).hidden = !visible;
}

function reportApiProblem(error, origin) {
  const box = $("#api-error");
  if (error instanceof ApiError && error.status === 400 && error.fieldProblems.length) {
    box.textContent = `${error.status} ${error.code}: the API named ${error.fieldProblems.length} field(s), marked above.`;
  } else if (error instanceof ApiError) {
    box.textContent = `${error.status} ${error.code ?? ""}: ${error.error.message ?? ""}`;
  } else if (error instanceof TypeError) {
    // fetch gives no detail when the browser refuses a response (CORS) or the network fails.
    box.textContent =
      `The API did not answer this page (origin ${origin}): the browser refused the ` +
      `cross-origin call (CORS), or the network failed. ${error.message}`;
  } else {
    box.textContent = String(error?.message ?? error);
  }
  box.hidden = false;
}

function renderStatus(status, follow = {}) {
  const panel = $("#status");
  panel.hidden = false;
  panel.dataset.phase = status.phase;
  panel.dataset.requestId = status.request_id;
  $("#status-id").textContent = status.request_id;
  $("#status-phase").textContent = status.phase;
  $("#status-attempt").textContent = status.attempt != null ? `attempt ${status.attempt}/${status.max_attempts}` : "";
  $("#status-created").textContent = time(status.created_at ?? follow.submittedAt);
  $("#status-updated").textContent = time(status.updated_at);
  $("#status-location").textContent = follow.location ?? "";
  $("#status-retry").textContent = follow.retryAfter != null ? `${follow.retryAfter} s` : "";
  const failure = status.phase === "failed" && status.error;
  $("#status-error").textContent = failure ? `${status.error.code}: ${status.error.message}` : "";
  $("#status-cluster").textContent = status.cluster_id ?? "";
}

function renderMine(items) {
  const body = $("#mine tbody");
  body.replaceChildren();
  for (const item of items) {
    const row = document.createElement("tr");
    row.dataset.requestId = item.request_id;
    row.dataset.phase = item.phase;
    for (const text of [item.request_id, item.cluster_name ?? "", item.resource_group ?? "", item.phase, time(item.updated_at)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  $("#mine").dataset.count = String(items.length);
  $("#mine-empty").hidden = items.length > 0;
}

async function main() {
  const config = await (await fetch("config.json", { cache: "no-store" })).json();
  const auth = await createAuth(config);
  const account = auth.account();
  show("#signed-out", !account);
  show("#signed-in", Boolean(account));
  $("#sign-in").addEventListener("click", () => auth.signIn());
  if (!account) return;
  $("#sign-out").addEventListener("click", () => auth.signOut());
  $("#user-name").textContent = `${account.name ?? ""} (${account.username})`;

  const api = new FrontDoor(config.apiBase, () => auth.token(config.apiScope));
  const validate = requestValidator(schema);
  const form = renderForm($("#fields"), schema, { subscription_id: config.subscriptionId ?? "" });
  show("#mode-queue-option", Boolean(config.queueUrl));
  const origin = window.location.origin;

  const refreshMine = async () => {
    try {
      renderMine((await api.mine()).items);
      $("#api-error").hidden = true;
    } catch (error) {
      reportApiProblem(error, origin);
    }
  };

  $("#refresh").addEventListener("click", refreshMine);
  $("#request-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("#api-error").hidden = true;
    const request = { request_id: crypto.randomUUID(), ...form.collect() };
    const problems = validate(request);
    const summary = $("#problems");
    summary.replaceChildren(
      ...problems.map(({ field, reason }) => Object.assign(document.createElement("li"), { textContent: `${field}: ${reason}` })),
    );
    summary.dataset.source = problems.length ? "browser" : "";
    form.showProblems(problems);
    if (problems.length) return; // nothing is sent: the schema already says why
    const mode = new FormData(event.target).get("mode");
    const submittedAt = new Date().toISOString();
    $("#submit").disabled = true;
    try {
      let location;
      let retryAfter;
      if (mode === "queue") {
        await enqueue(config.queueUrl, storageCredential(auth, config.storageScope ?? STORAGE_SCOPE), request);
        location = `${config.apiBase.replace(/\/$/, "")}/api/provisioning/${request.request_id}`;
        retryAfter = 1;
        renderStatus({ request_id: request.request_id, phase: "queued" }, { submittedAt, location });
      } else {
        const accepted = await api.submit(request);
        ({ location, retryAfter } = accepted);
        renderStatus(accepted.status, { submittedAt, location, retryAfter });
      }
      refreshMine();
      const final = await api.follow(location, {
        retryAfter,
        onStatus: (status, follow) => renderStatus(status, { ...follow, submittedAt }),
      });
      if (TERMINAL.has(final.phase)) await refreshMine();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) {
        const fromServer = error.fieldProblems;
        summary.replaceChildren(
          ...fromServer.map(({ field, reason }) => Object.assign(document.createElement("li"), { textContent: `${field}: ${reason}` })),
        );
        summary.dataset.source = "server";
        form.showProblems(fromServer);
      }
      reportApiProblem(error, origin);
    } finally {
      $("#submit").disabled = false;
    }
  });
  await refreshMine();
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  const box = $("#api-error");
  box.textContent = `The page could not start: ${error?.message ?? error}`;
  box.hidden = false;
  document.body.dataset.ready = "error";
});
