// Ajv's errors as the contract's field paths (`cluster.node_count`, `tags.<name>`, `$`), the
// same paths the function's 400 names, so one list shows both.
import Ajv2020 from "ajv/dist/2020.js";

/** A validator for the request schema: `(document) => [{field, reason}]`, every problem. */
export function requestValidator(schema) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
  const validate = ajv.compile(schema);
  return (document) => (validate(document) ? [] : fieldProblems(validate.errors ?? []));
}

function pointerParts(pointer) {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function join(parts) {
  return parts.length ? parts.join(".") : "$";
}

/** One problem per field: the first reason ajv gives for it. */
export function fieldProblems(errors) {
  const byField = new Map();
  for (const error of errors) {
    const base = pointerParts(error.instancePath);
    let field;
    if (error.keyword === "required") field = join([...base, error.params.missingProperty]);
    else if (error.keyword === "additionalProperties") field = join([...base, error.params.additionalProperty]);
    else if (error.propertyName !== undefined) field = join([...base, error.propertyName]);
    else if (error.keyword === "propertyNames") continue; // its inner error names the key
    else field = join(base);
    if (!byField.has(field)) byField.set(field, describe(error));
  }
  return [...byField].map(([field, reason]) => ({ field, reason }));
}

function describe(error) {
  const hint = error.parentSchema?.description;
  switch (error.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "is not a field of the contract";
    case "pattern":
    case "not":
      if (error.propertyName !== undefined) {
        return "the tag name must not contain < > % & \\ ? / nor be one of the app's own tag names";
      }
      return hint ? `does not fit: ${hint}` : "has the wrong form";
    case "minimum":
      return `must be at least ${error.params.limit}`;
    case "maximum":
      return `must be at most ${error.params.limit}`;
    default:
      return error.message ?? "is not valid";
  }
}
