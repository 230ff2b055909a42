// compile.json's "quantize" section (compiler/stages/config.ts embeds it).
import { z } from "zod";
import { CANDIDATE_KINDS } from "../select.ts";
import { ActivationType } from "./params.ts";
import { RangeMethod } from "./ranges.ts";

export const QuantizeStageSchema = z
  .object({
    calib: z.string().min(1).describe("directory of .npy calibration clips (compiler/quantize/README.md; dump_clips.py makes them)"),
    eval: z.string().min(1).optional().describe("directory of held-out .npy clips (+ labels.txt): the accuracy guard"),
    method: RangeMethod.default("minmax"),
    percentile: z.number().gt(50).max(100).optional(),
    format: z.enum(["qdq", "qoperator", "weight-only"]).default("qdq"),
    activations: ActivationType.default("uint8"),
    reduceRange: z.boolean().default(false),
    exclude: z.array(z.string()).default([]).describe("node names kept in fp32"),
    mixed: z.boolean().default(false).describe("keep the most harmful layers fp32 until the top-1 drop is within budget (needs eval)"),
    budget: z.number().min(0).default(1).describe("top-1 points the int8 model may lose against fp32 on the eval clips"),
    candidates: z
      .array(z.enum(CANDIDATE_KINDS))
      .min(1)
      .optional()
      .describe("choose by measurement among these forms (needs eval): each evaluated on the eval clips and timed in onnxruntime-web and -node; the fastest within budget ships (format/method/exclude/mixed then unused)"),
    choose: z.string().min(1).optional().describe("with candidates: ship this candidate (name or kind) whatever the measurements say"),
    rounds: z.number().int().positive().default(5).describe("with candidates: interleaved measuring rounds"),
    nodeThreads: z.number().int().positive().default(1).describe("with candidates: onnxruntime-node's intra-op threads"),
  })
  .strict()
  .refine((q) => !q.candidates || q.eval !== undefined, { message: "candidates needs eval (held-out clips)", path: ["candidates"] })
  .refine((q) => !q.mixed || q.eval !== undefined, { message: "mixed needs eval (held-out clips)", path: ["mixed"] });
export type QuantizeStageConfig = z.output<typeof QuantizeStageSchema>;
