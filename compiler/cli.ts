// npm run compile -- <run dir | model.onnx> [--out DIR] [--id ID] [--version V]
// npm run compile -- <run dir | model.onnx> --config compile.json [...] (staged: compiler/stages/)
// npm run compile -- inspect model.onnx
// npm run compile -- prune <run dir | model.onnx> --ratio R [--out DIR] ... (compiler/prune/command.ts)
// npm run compile -- quantize <run dir | model.onnx> --calib DIR ... (compiler/quantize/command.ts)
// npm run compile -- upload <model dir> [--local|--remote] ... (compiler/upload.ts)
import { CompileError, isUserError, parseFlags } from "./errors.ts";
import { inspectModel } from "./inspect.ts";
import { loadModel } from "./ir/index.ts";
import { compile } from "./pipeline.ts";
import { PRUNE_USAGE, pruneCommand } from "./prune/command.ts";
import { QUANTIZE_USAGE, quantizeCommand } from "./quantize/command.ts";
import { UPLOAD_USAGE, uploadCommand } from "./upload.ts";
import { compileConfigJsonSchema, readCompileConfig } from "./stages/config.ts";
import { runStages } from "./stages/run.ts";

const USAGE = `usage: npm run compile -- <run dir | model.onnx> [--out DIR] [--id ID] [--version V] [--explain]
         --explain: add the class-map output that /v1/classify?explain=1 answers heatmaps from
       npm run compile -- <run dir | model.onnx> --config compile.json [--out DIR] [--id ID] [--version V]
         stages student, distill, optimize, prune, finetune as compile.json says, each cached
       npm run compile -- schema      (prints compile.json's JSON Schema)
       npm run compile -- inspect <model.onnx>
${PRUNE_USAGE.replace("usage: ", "       ")}
${QUANTIZE_USAGE.replace("usage: ", "       ")}
${UPLOAD_USAGE.replace("usage: ", "       ")}`;

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "prune") {
    await pruneCommand(argv.slice(1), (line) => console.log(line));
    return;
  }
  if (argv[0] === "quantize") {
    await quantizeCommand(argv.slice(1), (line) => console.log(line));
    return;
  }
  if (argv[0] === "upload") {
    await uploadCommand(argv.slice(1), (line) => console.log(line));
    return;
  }
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: "string" },
      id: { type: "string" },
      version: { type: "string" },
      config: { type: "string" },
      explain: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
  );
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals[0] === "inspect") {
    if (positionals.length !== 2) throw new CompileError(`inspect takes one model file\n${USAGE}`);
    console.log(inspectModel(await loadModel(positionals[1]), positionals[1]));
    return;
  }
  if (positionals[0] === "schema") {
    console.log(JSON.stringify(compileConfigJsonSchema(), null, 2));
    return;
  }
  if (positionals.length !== 1) throw new CompileError(`expected one run dir or model.onnx\n${USAGE}`);
  const { out, id, version } = values;
  if (values.config) {
    if (values.explain) throw new CompileError(`--explain goes with the plain compile: run npm run compile -- <the stages' output dir> --explain`);
    await runStages(positionals[0], await readCompileConfig(values.config), { out, id, version });
    return;
  }
  await compile(positionals[0], { out, id, version, explain: values.explain, log: (line) => console.log(line) });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (isUserError(e)) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
});
