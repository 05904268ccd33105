// Imports marketfeed.js (and the modules it imports) as ES modules under
// Node.js whatever its version: copies of web/static next to a
// package.json of type "module". Returns the module and resume.js.
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export async function load() {
  const staticDir = join(dirname(fileURLToPath(import.meta.url)), "..", "static");
  const dir = mkdtempSync(join(tmpdir(), "marketfeed-js-"));
  try {
    writeFileSync(join(dir, "package.json"), '{"type": "module"}\n');
    for (const f of readdirSync(staticDir)) if (f.endsWith(".js")) copyFileSync(join(staticDir, f), join(dir, f));
    const m = await import(pathToFileURL(join(dir, "marketfeed.js")).href);
    const resume = await import(pathToFileURL(join(dir, "resume.js")).href);
    return { m, resume };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
