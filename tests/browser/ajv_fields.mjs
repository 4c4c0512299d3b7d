// Reads a JSON array of documents on stdin; prints, for each, the sorted field paths the SPA's
// own validator (ajv over schemas/provisioning-request.schema.json) names.
import { readFileSync } from "node:fs";

import schema from "../../schemas/provisioning-request.schema.json" with { type: "json" };
import { requestValidator } from "../../spa/src/schema-errors.js";

const validate = requestValidator(schema);
const documents = JSON.parse(readFileSync(0, "utf8"));
const fields = documents.map((document) => validate(document).map((p) => p.field).sort());
process.stdout.write(JSON.stringify(fields));
