// The API's shapes as zod schemas: what each route takes and answers. The
// handlers parse their input with these, the tests validate real answers
// against them, and the OpenAPI document (openapi.ts) is generated from them,
// so the three cannot drift apart.
import { z } from "zod";
import { ManifestSchema } from "../../contract/manifest.ts";
import { DEFAULT_MODEL } from "./models.ts";

/** POST /v1/classify options, from the query string or form fields (all strings on the wire). */
export const ClassifyOptionsSchema = z
  .object({
    // The manifest's own rules for ids and versions.
    model: ManifestSchema.shape.id.default(DEFAULT_MODEL).describe('a model id; "default" is the bundled model'),
    version: z.union([z.literal("latest"), ManifestSchema.shape.version]).default("latest").describe('a version, or "latest"'),
    topk: z
      .string()
      .regex(/^[0-9]{1,5}$/, "must be a positive integer")
      .transform(Number)
      .pipe(z.number().int().min(1, "must be at least 1"))
      .optional()
      .describe("how many labels to answer, from 1 to the model's label count (default 5)"),
  })
  .strict();

export type ClassifyOptions = z.infer<typeof ClassifyOptionsSchema>;
