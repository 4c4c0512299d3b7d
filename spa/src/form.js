// The request form, built from schemas/provisioning-request.schema.json: one input per leaf
// field of the contract, its title, limits and hint from the schema, checked by the schema.

const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children);
  return node;
};

/** The leaf fields the form shows, as [path, schema, required], in the schema's order. */
export function formFields(schema) {
  const fields = [];
  const walk = (node, prefix) => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (path === "request_id" || path === "tags") continue; // made by the page; own editor
      if (child.type === "object") walk(child, path);
      else fields.push([path, child, (node.required ?? []).includes(name)]);
    }
  };
  walk(schema, "");
  return fields;
}

function leafInput(path, schema, required, initial) {
  const id = `f-${path.replace(".", "-")}`;
  const integer = schema.type === "integer";
  const input = el("input", {
    id,
    name: path,
    type: integer ? "number" : "text",
    inputmode: integer ? "numeric" : undefined,
    min: schema.minimum,
    max: schema.maximum,
    maxlength: schema.maxLength,
    placeholder: schema.default ?? "",
    required,
    value: initial ?? "",
    autocomplete: "off",
  });
  const hint = [
    schema.description?.replace(/\.$/, ""),
    integer ? `${schema.minimum}-${schema.maximum}` : undefined,
    schema.maxLength ? `at most ${schema.maxLength} characters` : undefined,
    schema.default !== undefined ? `default ${schema.default}` : undefined,
  ]
    .filter(Boolean)
    .join("; ");
  return el(
    "div",
    { class: "field", "data-field": path },
    el("label", { for: id, text: `${schema.title ?? path}${required ? " *" : ""}` }),
    input,
    el("p", { class: "hint", text: hint }),
    el("p", { class: "problem", role: "alert" }),
  );
}

function tagRow(name = "", value = "") {
  const row = el(
    "div",
    { class: "tag-row" },
    el("input", { class: "tag-name", "aria-label": "Tag name", value: name, autocomplete: "off" }),
    el("input", { class: "tag-value", "aria-label": "Tag value", value, autocomplete: "off" }),
    el("button", { type: "button", class: "remove-tag", text: "Remove" }),
  );
  row.querySelector(".remove-tag").addEventListener("click", () => row.remove());
  return row;
}

/** Render the form into `container`; returns {collect, showProblems, clearProblems}. */
export function renderForm(container, schema, initial = {}) {
  container.replaceChildren();
  for (const [path, fieldSchema, required] of formFields(schema)) {
    container.append(leafInput(path, fieldSchema, required, initial[path]));
  }
  const tags = schema.properties.tags;
  const rows = el("div", { class: "tag-rows" });
  const add = el("button", { type: "button", id: "add-tag", text: "Add tag" });
  add.addEventListener("click", () => rows.append(tagRow()));
  container.append(
    el(
      "div",
      { class: "field", "data-field": "tags" },
      el("label", { text: tags.title ?? "Tags" }),
      rows,
      add,
      el("p", { class: "hint", text: tags.description }),
      el("p", { class: "problem", role: "alert" }),
    ),
  );

  const collect = () => {
    const document = {};
    for (const [path, fieldSchema] of formFields(schema)) {
      const raw = container.querySelector(`[name="${path}"]`).value.trim();
      if (raw === "") continue; // absent: the default applies, or "required" is reported
      const value = fieldSchema.type === "integer" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      const parts = path.split(".");
      let target = document;
      for (const part of parts.slice(0, -1)) target = target[part] ??= {};
      target[parts.at(-1)] = value;
    }
    const tagRows = [...rows.querySelectorAll(".tag-row")];
    if (tagRows.length) {
      document.tags = {};
      for (const row of tagRows) {
        const name = row.querySelector(".tag-name").value;
        if (name !== "" || row.querySelector(".tag-value").value !== "") {
          document.tags[name] = row.querySelector(".tag-value").value;
        }
      }
    }
    return document;
  };

  const clearProblems = () => {
    for (const node of container.querySelectorAll(".problem")) node.textContent = "";
    for (const node of container.querySelectorAll(".field.bad")) node.classList.remove("bad");
  };

  /** Mark each bad field (tags.<name> under Tags; unknown paths only in the summary). */
  const showProblems = (problems) => {
    clearProblems();
    for (const { field, reason } of problems) {
      const owner = field.startsWith("tags.") ? "tags" : field;
      const box = container.querySelector(`.field[data-field="${CSS.escape(owner)}"]`);
      if (!box) continue;
      box.classList.add("bad");
      const line = field === owner ? reason : `${field.slice(5)}: ${reason}`;
      const problem = box.querySelector(".problem");
      problem.textContent = problem.textContent ? `${problem.textContent} / ${line}` : line;
    }
  };

  const addTag = (name, value) => rows.append(tagRow(name, value));
  return { collect, showProblems, clearProblems, addTag };
}
