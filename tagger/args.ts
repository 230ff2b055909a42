// `npm run tag -- <files or folders> [options]`: the command line, checked.
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { TagError } from "./node-model.ts";

export const FORMATS = ["json", "csv", "vtt", "html"] as const;
const DEFAULT_FORMATS = "json,csv,vtt";
export type Format = (typeof FORMATS)[number];

/** The bundled model, wherever the command is run from. */
export const DEFAULT_MODEL = fileURLToPath(new URL("../models/default", import.meta.url));

export interface TagOptions {
  inputs: string[];
  clips: number | undefined;
  model: string;
  out: string;
  workers: number;
  /** onnxruntime intra-op threads per worker. */
  threads: number;
  topk: number;
  formats: Format[];
  progress: boolean;
}

export const USAGE = `usage: npm run tag -- <files or folders> [options]

Tags MP4 videos (H.264) with a model, clip by clip, and writes per video
<name>.json (the job: tags, segments, clips), .csv (a row per clip) and .vtt
(a WebVTT track of the segments) into --out; .html (a timeline page) on request.
Folders are searched recursively for .mp4, .m4v and .mov files.

  --clips N        clips per video, evenly spaced (default: back to back, video
                   duration / the model's clip duration)
  --model DIR      model.onnx + manifest.json (default: the bundled models/default)
  --out DIR        output folder (default: tags)
  --workers K      worker threads (default: min(2, cores))
  --threads T      onnxruntime threads per worker (default: max(1, cores / workers))
  --topk K         labels per clip and per video (default: 5)
  --format LIST    comma-separated of json,csv,vtt,html (default: json,csv,vtt)
  --no-progress    no progress bar on stderr
  -h, --help
`;

function positiveInt(name: string, text: string | undefined, fallback: number | undefined): number | undefined {
  if (text === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(text)) throw new TagError(`--${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** The options, or null when help was asked for. */
export function parseTagArgs(argv: string[], cores = availableParallelism()): TagOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        clips: { type: "string" },
        model: { type: "string", default: DEFAULT_MODEL },
        out: { type: "string", default: "tags" },
        workers: { type: "string" },
        threads: { type: "string" },
        topk: { type: "string" },
        format: { type: "string", default: DEFAULT_FORMATS },
        "no-progress": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new TagError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length === 0) throw new TagError("no videos given: name MP4 files or folders");
  const workers = positiveInt("workers", values.workers, Math.min(2, cores))!;
  const formats = values.format.split(",").map((f) => f.trim());
  const unknown = formats.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (unknown.length > 0 || formats.length === 0) throw new TagError(`--format takes ${FORMATS.join(", ")} (comma-separated), not ${JSON.stringify(values.format)}`);
  return {
    inputs: positionals,
    clips: positiveInt("clips", values.clips, undefined),
    model: values.model,
    out: values.out,
    workers,
    threads: positiveInt("threads", values.threads, Math.max(1, Math.floor(cores / workers)))!,
    topk: positiveInt("topk", values.topk, 5)!,
    formats: [...new Set(formats)] as Format[],
    progress: !values["no-progress"],
  };
}
