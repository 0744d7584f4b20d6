// Reads {"schemas": [...], "cases": [[schemaId, document], ...], "patterns": [[pattern,
// string], ...]} on stdin; writes {"valid": [bool, ...], "matches": [bool, ...]}: what Ajv
// (draft 2020-12, strict mode, ECMA-262 regular expressions with the "u" flag) says.
import Ajv2020 from "ajv/dist/2020.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
// Strict, except "strictRequired": the alternatives of sync-request ("anyOf" of "required")
// name members that its parent schema declares, which this check does not look at.
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: false });
for (const schema of input.schemas) ajv.addSchema(schema);
const valid = input.cases.map(([id, document]) => {
  const check = ajv.getSchema(id);
  if (!check) throw new Error(`no schema ${id}`);
  return check(document);
});
// Ajv compiles "pattern" as new RegExp(pattern, "u"): the same here.
const matches = input.patterns.map(([pattern, text]) => new RegExp(pattern, "u").test(text));
process.stdout.write(JSON.stringify({ valid, matches }));
