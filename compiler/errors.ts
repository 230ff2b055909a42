// Which errors are a user's to fix (bad input files or flags): the CLI prints
// their message as one line, while anything else is a bug and keeps its stack.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ManifestError } from "../contract/manifest.ts";
import { OnnxError } from "./ir/index.ts";

/** A problem with the compiler's inputs or flags; the message names the file and the problem. */
export class CompileError extends Error {
  override name = "CompileError";
}

/** A (sub)command's flags and positionals (`parseArgs`); a flag it does not know is a CompileError followed by `usage`. */
export function parseFlags<const O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (e) {
    throw new CompileError(`${(e as Error).message}\n${usage}`);
  }
}

export function isUserError(e: unknown): e is Error {
  return e instanceof CompileError || e instanceof OnnxError || e instanceof ManifestError;
}
