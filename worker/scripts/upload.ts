// `npm run upload -- FILE [--url URL] [--key KEY]`: uploads a video into the
// Worker's VIDEOS bucket in parts, with retries, resuming after a dropped
// connection or an interrupted run (run the same command again), with a
// progress bar on stderr. Prints the stored video (key, bytes, etag, video)
// as JSON on stdout: its key goes to POST /v1/classify (r2Key) or /v1/jobs.
import { parseArgs } from "node:util";
import { UploadError, uploadFile } from "./upload-client.ts";

const USAGE = `usage: npm run upload -- FILE [--url URL] [--key KEY] [--name NAME] [--overwrite] [--part-size BYTES] [--concurrency N] [--retries N]
  --url URL          the Worker (default http://127.0.0.1:8787, as npm start serves it)
  --key KEY          an API key (default: the EDGEVID_API_KEY env var; none for npm start)
  --name NAME        the video's name in the bucket (default: the file's name)
  --overwrite        replace a video already stored under the name (default: refused, HTTP 409 video_exists)
  --part-size BYTES  bytes per part, 5 MiB to 64 MiB (default: the server's, 8 MiB)
  --concurrency N    parts in flight at once (default 3)
  --retries N        retries of a failed request, with backoff from 1 s (default 4)`;

function fail(message: string, code = 1): never {
  console.error(`upload: ${message}`);
  process.exit(code);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: "string", default: "http://127.0.0.1:8787" },
        key: { type: "string" },
        name: { type: "string" },
        overwrite: { type: "boolean", default: false },
        "part-size": { type: "string" },
        concurrency: { type: "string", default: "3" },
        retries: { type: "string", default: "4" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    return fail(`${(e as Error).message}\n${USAGE}`, 2);
  }
})();

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1) fail(`give exactly one file (got ${positionals.length})\n${USAGE}`, 2);
const integer = (flag: string, text: string | undefined) => {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) fail(`--${flag} must be a positive integer, not ${JSON.stringify(text)}`, 2);
  return Number(text);
};

const MIB = 1024 * 1024;
const bar = (share: number, width = 30) => `[${"#".repeat(Math.round(share * width))}${".".repeat(width - Math.round(share * width))}]`;
const started = performance.now();
let lastDraw = 0;
let startBytes: number | undefined;
const tty = Boolean(process.stderr.isTTY);

try {
  const result = await uploadFile(positionals[0], {
    url: values.url,
    key: values.key ?? process.env.EDGEVID_API_KEY,
    name: values.name,
    partSize: integer("part-size", values["part-size"]),
    overwrite: values.overwrite,
    concurrency: integer("concurrency", values.concurrency),
    attempts: values.retries === "0" ? 1 : integer("retries", values.retries)! + 1,
    onMessage: (text) => console.error(`${tty ? "\r\x1b[K" : ""}upload: ${text}`),
    onProgress: ({ bytesDone, bytes, partsDone, parts }) => {
      startBytes ??= bytesDone;
      const now = performance.now();
      const finished = partsDone === parts;
      // Redrawn in place on a terminal; into a log, a line per part is plenty.
      if (tty && !finished && now - lastDraw < 100) return;
      lastDraw = now;
      const rate = (bytesDone - startBytes) / MIB / Math.max((now - started) / 1000, 1e-3);
      const line = `${bar(bytesDone / bytes)} ${(bytesDone / MIB).toFixed(1)}/${(bytes / MIB).toFixed(1)} MiB  part ${partsDone}/${parts}  ${rate.toFixed(1)} MiB/s`;
      process.stderr.write(tty ? `\r\x1b[K${line}${finished ? "\n" : ""}` : `${line}\n`);
    },
  });
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  if (error instanceof UploadError) fail(error.message);
  throw error;
}
