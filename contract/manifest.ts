// The model manifest: the one contract between training, the compiler and the
// Worker. This zod schema is the source of truth; contract/manifest.schema.json
// is generated from it (`npm run contract:schema`) so Python validates the same
// rules with jsonschema.
import { z } from "zod";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a lowercase hex sha256 (64 characters)");
const positiveInt = z.number().int().min(1);
const rgbTriple = z.array(z.number()).length(3);

export const ClipSamplerSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("constant_clips_per_video"),
      clipsPerVideo: positiveInt.max(64),
    })
    .strict(),
  z
    .object({
      kind: z.literal("uniform"),
      // Seconds between clip starts; defaults to the clip duration (no overlap).
      stride: z.number().positive().optional(),
      // Add a last clip that ends exactly at the end of the video.
      backpadLast: z.boolean().default(false),
    })
    .strict(),
]);

export const SamplingPlanSchema = z
  .object({
    clipSampler: ClipSamplerSchema,
    clipDuration: z.number().positive().describe("seconds per clip"),
    frames: positiveInt.max(256).describe("frames per clip"),
    // uniform: the T frames evenly spread over the decoded frames of the clip;
    // keyframe: for each of those target times, the nearest keyframe.
    frameSelector: z.enum(["uniform", "keyframe"]),
  })
  .strict();

export const InputSpecSchema = z
  .object({
    name: z.string().min(1),
    layout: z.literal("NCTHW"),
    dtype: z.literal("float32"),
    frames: positiveInt.max(256),
    cropSize: positiveInt.max(1024),
    shortSideSize: positiveInt.max(2048),
    mean: rgbTriple,
    std: rgbTriple.refine((s) => s.every((v) => v > 0), "every std must be > 0"),
    // Pixels are scaled to [0, 1] before (x - mean) / std, as PyTorchVideo does.
    pixelScale: z.literal(255),
    channelOrder: z.literal("RGB"),
  })
  .strict()
  .refine((i) => i.cropSize <= i.shortSideSize, {
    message: "cropSize must not exceed shortSideSize",
    path: ["cropSize"],
  });

export const OutputSpecSchema = z
  .object({
    name: z.string().min(1),
    kind: z.enum(["logits", "probabilities"]),
    // A second output, float32 [N, K, T', H', W']: each location's contribution
    // to each class logit, forward-only Grad-CAM (compiler/passes/expose-class-map.ts).
    classMap: z.string().min(1).optional(),
  })
  .strict();

export const PassRecordSchema = z
  .object({
    name: z.string().min(1),
    params: z.record(z.string(), z.unknown()).optional(),
    summary: z.string().optional(),
  })
  .strict();

export const ProvenanceSchema = z
  .object({
    parent: z
      .object({ id: z.string().min(1), version: z.string().min(1), sha256 })
      .strict()
      .nullable(),
    passes: z.array(PassRecordSchema),
    dataset: z
      .object({
        name: z.string().min(1),
        seed: z.number().int().optional(),
        classes: positiveInt.optional(),
        trainClips: z.number().int().min(0).optional(),
        valClips: z.number().int().min(0).optional(),
      })
      .strict()
      .nullable(),
    createdBy: z.string().min(1),
    createdAt: z.iso.datetime(),
  })
  .strict();

export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' or '-', at most 64"),
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, "letters, digits, '.', '_' or '-', at most 32"),
    architecture: z.string().min(1),
    labels: z.array(z.string().min(1)).min(2).max(10000),
    model: z
      .object({
        file: z.string().regex(/^[^/\\]+\.onnx$/, "a file name ending in .onnx, no directories"),
        sha256,
        bytes: positiveInt,
        opset: positiveInt,
      })
      .strict(),
    input: InputSpecSchema,
    output: OutputSpecSchema,
    sampling: SamplingPlanSchema,
    provenance: ProvenanceSchema,
    metrics: z.record(z.string(), z.number()),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.sampling.frames !== m.input.frames) {
      ctx.addIssue({
        code: "custom",
        path: ["sampling", "frames"],
        message: `must equal input.frames (${m.input.frames})`,
      });
    }
    if (new Set(m.labels).size !== m.labels.length) {
      ctx.addIssue({ code: "custom", path: ["labels"], message: "labels must be unique" });
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type SamplingPlan = z.infer<typeof SamplingPlanSchema>;
export type InputSpec = z.infer<typeof InputSpecSchema>;
export type PassRecord = z.infer<typeof PassRecordSchema>;

export class ManifestError extends Error {
  constructor(
    readonly source: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(`${source}: invalid manifest: ${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`);
    this.name = "ManifestError";
  }
}

/** Validates an already-parsed manifest; `source` names it in the error (a file path, an R2 key). */
export function parseManifest(value: unknown, source = "manifest"): Manifest {
  const result = ManifestSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ManifestError(
    source,
    result.error.issues.map((i) => ({ path: i.path.length ? i.path.join(".") : "(root)", message: i.message })),
  );
}

/** Validates manifest JSON text; bad JSON is reported like a bad field. */
export function parseManifestJson(text: string, source = "manifest"): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(source, [{ path: "(root)", message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return parseManifest(value, source);
}

/** The JSON Schema that Python validates against (committed as contract/manifest.schema.json). */
export function manifestJsonSchema(): unknown {
  return z.toJSONSchema(ManifestSchema, { target: "draft-2020-12", io: "input" });
}
