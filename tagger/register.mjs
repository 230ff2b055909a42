// `--import` target (and first import of tagger/cli.ts): installs module-rules.mjs.
import { register } from "node:module";

register("./module-rules.mjs", import.meta.url);
