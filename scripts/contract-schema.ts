// Writes contract/manifest.schema.json from the zod schema (the source of truth).
// `--check` exits non-zero when the committed file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { manifestJsonSchema } from "../contract/manifest.ts";

const path = new URL("../contract/manifest.schema.json", import.meta.url);
const text = JSON.stringify(manifestJsonSchema(), null, 2) + "\n";
if (process.argv.includes("--check")) {
  if (readFileSync(path, "utf8") !== text) {
    console.error("contract/manifest.schema.json is stale: run `npm run contract:schema`");
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  console.log("wrote contract/manifest.schema.json");
}
