// compile.json: which stages `npm run compile -- <input> --config compile.json`
// runs and how. The zod schema is the source of truth; compile.schema.json
// beside this file is generated from it for editors (npm run compile -- schema).
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { CompileError } from "../errors.ts";
import { pruneConfigSchema } from "../prune/config.ts";
import { QuantizeStageSchema } from "../quantize/stage-config.ts";
import { StudentConfigSchema } from "../student/select.ts";

const DataSchema = z.union([
  z.object({ dir: z.string().min(1).describe("dataset directory with train.txt, val.txt, labels.txt") }).strict(),
  z
    .object({ trainList: z.string().min(1), valList: z.string().min(1), labels: z.string().min(1), root: z.string().min(1).optional() })
    .strict(),
]);

/** What the engine's training loops take from compile.json (engine defaults where left out). */
const trainFields = {
  alpha: z.number().min(0).max(1).describe("weight of the KL term; 1 - alpha weighs the label cross-entropy"),
  temperature: z.number().positive().max(100).describe("softens teacher and student logits in the KL term"),
  epochs: z.number().int().min(1).max(10000),
  batchSize: z.number().int().min(1).max(4096),
  lr: z.number().positive().max(10),
  seed: z.number().int().min(0),
  threads: z.number().int().min(1).max(1024).describe("torch threads (default: the engine's, all cores)"),
  device: z.enum(["auto", "cpu", "cuda", "mps"]),
};
const TrainSchema = z.object(trainFields).partial().strict();

export const CompileConfigSchema = z
  .object({
    $schema: z.string().optional(),
    data: DataSchema.optional().describe("the user's videos (paths relative to compile.json): needed by distill and finetune"),
    student: StudentConfigSchema.optional().describe("choose an X3D-S-family student for a budget; the distill stage trains it"),
    distill: TrainSchema.prefault({}).describe("training the student against the teacher (engine defaults: alpha 0.5, T 4, 30 epochs)"),
    optimize: z.boolean().default(true).describe("fold constants and BatchNorm, drop dead nodes (lossless)"),
    prune: pruneConfigSchema.optional().describe("structural pruning (compiler/prune); a latency budget is not available here yet"),
    finetune: TrainSchema.optional().describe("train the pruned model with distillation from the unpruned one"),
    quantize: QuantizeStageSchema.optional().describe("static int8 quantization last (compiler/quantize), checked on held-out clips"),
    accuracyBudget: z
      .object({
        maxTop1Drop: z.number().min(0).max(1).optional().describe("most val top-1 (a fraction) a stage may lose against the teacher"),
        minTop1: z.number().min(0).max(1).optional().describe("least val top-1 (a fraction) a stage must reach"),
      })
      .strict()
      .refine((b) => b.maxTop1Drop !== undefined || b.minTop1 !== undefined, "give maxTop1Drop or minTop1")
      .optional()
      .describe("checked after each training stage (distill, finetune) on the validation videos"),
    out: z.string().min(1).optional().describe("output directory (relative to compile.json; --out wins)"),
    cache: z.string().min(1).optional().describe("stage cache directory (default: <out>/.cache)"),
    id: z.string().optional(),
    version: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.student || c.finetune) && !c.data) {
      ctx.addIssue({ code: "custom", path: ["data"], message: `${c.student ? "student/distill" : "finetune"} trains on your videos: give data {"dir": ...}` });
    }
    if (c.finetune && !c.prune && !c.student) {
      ctx.addIssue({ code: "custom", path: ["finetune"], message: "finetune follows prune (or a student): nothing to fine-tune" });
    }
  });
export type CompileConfig = z.output<typeof CompileConfigSchema>;
export type TrainConfig = z.output<typeof TrainSchema>;
export type DataConfig = z.output<typeof DataSchema>;

/** Validates a parsed compile.json; errors name the file and each field. Relative data/out/cache paths resolve from the file's directory. */
export function parseCompileConfig(value: unknown, source: string): CompileConfig {
  const parsed = CompileConfigSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new CompileError(`${source}: ${problems.join("; ")}`);
  }
  const base = dirname(resolve(source));
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(base, p));
  const c = parsed.data;
  const data: DataConfig | undefined =
    c.data && ("dir" in c.data ? { dir: at(c.data.dir)! } : { ...c.data, trainList: at(c.data.trainList)!, valList: at(c.data.valList)!, labels: at(c.data.labels)!, root: at(c.data.root) });
  const quantize = c.quantize && { ...c.quantize, calib: at(c.quantize.calib)!, eval: at(c.quantize.eval) };
  return { ...c, data, out: at(c.out), cache: at(c.cache), quantize };
}

export async function readCompileConfig(path: string): Promise<CompileConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new CompileError(`${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (the compile config)" : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CompileError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  return parseCompileConfig(value, path);
}

/** The JSON Schema users' editors validate compile.json with. */
export function compileConfigJsonSchema(): unknown {
  return z.toJSONSchema(CompileConfigSchema, { target: "draft-2020-12", io: "input", unrepresentable: "any" });
}
