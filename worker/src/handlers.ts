// Route handlers: compose request parsing, the model registry, decoding,
// preprocessing and inference into answers.
import type { Context } from "hono";
import type { Manifest } from "../../contract/manifest.ts";
import { exclusively } from "./admission.ts";
import { probabilities, runModel, topK } from "./classify.ts";
import { classifyVideo } from "./classify-video.ts";
import { userError } from "./errors.ts";
import { checkExplainOptions, explainClips } from "./explain.ts";
import { decodeFrame } from "./frames.ts";
import type { AppEnv } from "./middleware.ts";
import { getModel, listModels, type LoadedModel } from "./models.ts";
import { encodePng, pngDataUrl } from "./png.ts";
import { ClipTensor, frameSlots, recycle } from "./preprocess.ts";
import { parseClassifyRequest, type UploadedFrame } from "./request.ts";
import type { ClassifyOptions } from "./api-schemas.ts";
import { ms } from "./timing.ts";

const DEFAULT_TOPK = 5;

export async function healthz(c: Context<AppEnv>): Promise<Response> {
  return c.json({ status: "ok" });
}

export async function models(c: Context<AppEnv>): Promise<Response> {
  const { models, invalid } = await listModels(c.env.MODELS);
  if (invalid.length) console.error(JSON.stringify({ requestId: c.get("requestId"), error: "invalid_models_in_r2", invalid }));
  return c.json({ models, invalid });
}

/** The k to answer with: the request's, else 5 (or fewer labels); never more than the model has. */
function topkFor(manifest: Manifest, requested: number | undefined): number {
  const labels = manifest.labels.length;
  const k = requested ?? Math.min(DEFAULT_TOPK, labels);
  if (k > labels) {
    throw userError(400, "topk_out_of_range", `topk is ${k} but ${manifest.id}@${manifest.version} has ${labels} labels`, `topk: an integer from 1 to ${labels}`);
  }
  return k;
}

/** Uploaded frames (one clip) → top-k, and with the options the heatmaps and the frames as the model sees them. */
async function classifyFrames(frames: UploadedFrame[], { manifest, session }: LoadedModel, k: number, options: ClassifyOptions) {
  // The model's T slots take the training's uniform temporal subsample of the
  // received frames; each distinct frame is decoded once, written into its
  // slots and dropped, so one decoded frame is alive at a time.
  const slots = frameSlots(frames.length, manifest.input.frames);
  const used = [...new Set(slots)];
  const { width, height } = frames[0].header;
  // Decode and inference one request at a time (admission.ts).
  return exclusively(async () => {
    const clip = new ClipTensor(manifest.input, width, height);
    try {
      let decodeMs = 0;
      let preprocessMs = 0;
      for (const j of used) {
        const t0 = performance.now();
        const image = await decodeFrame(frames[j].bytes, frames[j].header, frames[j].what);
        const t1 = performance.now();
        for (let t = 0; t < slots.length; t++) if (slots[t] === j) clip.setFrame(t, image);
        decodeMs += t1 - t0;
        preprocessMs += performance.now() - t1;
      }
      const t2 = performance.now();
      const crop = manifest.input.cropSize;
      const keyframes = options.thumbnails
        ? await Promise.all(used.map(async (j) => ({ time: null, image: pngDataUrl(await encodePng(crop, crop, clip.slotRgb(slots.indexOf(j)))) })))
        : undefined;
      const t3 = performance.now();
      const output = await runModel(session, manifest, clip.data, clip.dims, options.explain);
      const top = topK(probabilities(output.scores, manifest.output.kind), manifest.labels, k);
      const t4 = performance.now();
      const explain =
        output.classMap && explainClips(manifest, options.label, top[0].index, [{ start: null, end: null, times: slots.map(() => null), map: output.classMap }]);
      return {
        top,
        frames: { received: frames.length, used: used.length },
        ...(explain && { explain }),
        ...(keyframes && { keyframes }),
        timing: {
          decodeMs: ms(0, decodeMs),
          preprocessMs: ms(0, preprocessMs),
          inferenceMs: ms(t3, t4),
          ...(keyframes && { thumbnailsMs: ms(t2, t3) }),
        },
      };
    } finally {
      recycle(clip);
    }
  });
}

/** POST /v1/classify: uploaded frames, or a video (body, upload, R2 object or URL). */
export async function classifyRequest(c: Context<AppEnv>): Promise<Response> {
  const start = performance.now();
  const request = await parseClassifyRequest(c);
  const model = await getModel(c.env.MODELS, request.options.model, request.options.version);
  const k = topkFor(model.manifest, request.options.topk);
  checkExplainOptions(model.manifest, request.options);
  const { timing, ...answer } =
    request.kind === "frames"
      ? await classifyFrames(request.frames, model, k, request.options)
      : await classifyVideo(request.video, request.options, model, k, c.env);
  const { manifest } = model;
  return c.json({
    requestId: c.get("requestId"),
    model: { id: manifest.id, version: manifest.version, sha256: manifest.model.sha256 },
    ...answer,
    timing: { ...timing, totalMs: ms(start, performance.now()) },
  });
}
