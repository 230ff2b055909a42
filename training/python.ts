// Which Python runs the training package: the interpreter named by
// EDGEVID_PYTHON, else the project's .venv (npm run setup:python). Shared by
// `npm run train` and the compiler's engine bridge (compiler/engine.ts).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const VENV_PYTHON = join(REPO_ROOT, ".venv", "bin", "python");

export class PythonMissing extends Error {
  override name = "PythonMissing";
}

/** EDGEVID_PYTHON if set (taken as given), else the .venv's interpreter; throws PythonMissing when there is none. */
export function defaultPython(): string {
  const fromEnv = process.env.EDGEVID_PYTHON;
  if (fromEnv) return fromEnv;
  if (!existsSync(VENV_PYTHON)) {
    throw new PythonMissing(`no Python environment at ${VENV_PYTHON}.\n  Create it with: npm run setup:python (or set EDGEVID_PYTHON to an interpreter that has torch and videotrain)`);
  }
  return VENV_PYTHON;
}
