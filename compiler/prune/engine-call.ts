// The minimal call into the Python training engine that pruning needs
// (`videotrain taylor`, `videotrain finetune`): spawn it, read its JSON-lines
// events from stdout, return the final "result" or throw the "error"'s
// message. compiler/engine.ts (the stage runner's wrapper) supersedes this
// once it lands; the interpreter is found like `npm run train` finds it.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CompileError } from "../errors.ts";

const root = resolve(import.meta.dirname, "../..");

export function enginePython(): string {
  const python = process.env.EDGEVID_PYTHON ?? join(root, ".venv", "bin", "python");
  if (!existsSync(python)) throw new CompileError(`no Python environment at ${python}; create it with: npm run setup:python (or set EDGEVID_PYTHON)`);
  return python;
}

export type EngineEvent = { readonly event: string } & Record<string, unknown>;

/** Runs `videotrain <args>`; `onEvent` sees every event. Resolves with the result event. */
export function runEngine(args: readonly string[], onEvent: (e: EngineEvent) => void = () => {}): Promise<EngineEvent> {
  const python = enginePython();
  return new Promise((done, fail) => {
    const child = spawn(python, ["-m", "videotrain", ...args, "--quiet"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let last: EngineEvent | undefined;
    let buffered = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        last = JSON.parse(line) as EngineEvent;
        onEvent(last);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (e) => fail(new CompileError(`could not run ${python}: ${e.message}`)));
    child.on("close", (code) => {
      if (last?.event === "result" && code === 0) return done(last);
      if (last?.event === "error") return fail(new CompileError(`videotrain ${args[0]}: ${String(last.message)}`));
      fail(new Error(`videotrain ${args[0]} exited with ${code} and no result event:\n${stderr.slice(-2000)}`));
    });
  });
}
