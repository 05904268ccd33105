// Validates an AsyncAPI document with the official parser:
//   node validate.mjs ../asyncapi.yaml
// Prints every diagnostic (severity, path, message) and exits 1 when any
// is an error, or when the parser gives no document; 0 otherwise, after a
// summary line naming the document's channels, operations and messages.
import { resolve } from "node:path";
import { DiagnosticSeverity, fromFile, Parser } from "@asyncapi/parser";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate.mjs ASYNCAPI.yaml");
  process.exit(2);
}
const names = { [DiagnosticSeverity.Error]: "error", [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "info", [DiagnosticSeverity.Hint]: "hint" };
const { document, diagnostics } = await fromFile(new Parser(), resolve(file)).parse();
let errors = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors++;
  console.log(`${names[d.severity] ?? d.severity} ${d.code} at /${(d.path || []).join("/")}: ${d.message}`);
}
if (errors || !document) {
  console.log(`${file}: ${errors} errors${document ? "" : ", no document"}`);
  process.exit(1);
}
console.log(`${file}: valid AsyncAPI ${document.version()}, ${document.channels().length} channels, ` +
  `${document.operations().length} operations, ${document.messages().length} messages, 0 errors`);
