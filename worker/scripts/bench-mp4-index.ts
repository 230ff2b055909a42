// Memory and time of indexMp4 against the number of samples (the evidence for
// LIMITS.videoSamples). A fixture's moov is patched to declare N samples of one
// byte in one chunk (its mdat grown to hold them), so mp4box builds N sample
// objects from a tiny moov. For each N, child Node processes find the smallest
// V8 heap (--max-old-space-size, MB) that indexes it; the time and the heap the
// finished index keeps are printed too. Node's baseline heap (~8 MB with tsx)
// is included in the smallest heap.
// Usage: npx tsx worker/scripts/bench-mp4-index.ts [N ...]   (default 50000 150000 300000)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { bytesSource } from "../src/mp4/source.ts";
import { loadVideos } from "../test/fixtures/videos.global.ts";

function patched(samples: number): Uint8Array {
  const original = Buffer.from(loadVideos().high_faststart.base64, "base64");
  const bytes = new Uint8Array(original.length + samples);
  bytes.set(original);
  const view = new DataView(bytes.buffer);
  const box = (type: string) => original.indexOf(type) - 4;
  view.setUint32(box("stsz") + 12, 1); // constant sample size 1 …
  view.setUint32(box("stsz") + 16, samples); // … for N samples
  view.setUint32(box("stts") + 12, 1); // one stts run: N samples of 512 ticks
  view.setUint32(box("stts") + 16, samples);
  view.setUint32(box("stsc") + 12, 1); // one chunk holds them all
  view.setUint32(box("stsc") + 16, 1);
  view.setUint32(box("stsc") + 20, samples);
  view.setUint32(box("ctts") + 12, 1); // one ctts run
  view.setUint32(box("ctts") + 16, samples);
  view.setUint32(box("mvhd") + 24, 1); // a 1 ms movie: no duration limit applies
  view.setUint32(box("mdat"), view.getUint32(box("mdat")) + samples);
  return bytes;
}

async function child(samples: number): Promise<void> {
  const bytes = patched(samples);
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const index = await indexMp4(bytesSource(bytes), { maxSamples: Infinity });
  const ms = performance.now() - t0;
  gc();
  const kept = process.memoryUsage().heapUsed - before;
  console.log(JSON.stringify({ samples: index.video.samples.length, ms, keptBytesPerSample: kept / samples }));
}

function run(samples: number, heapMb: number): { ms: number; keptBytesPerSample: number } | undefined {
  const result = spawnSync(
    process.execPath,
    [`--max-old-space-size=${heapMb}`, "--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "--child", String(samples)],
    { encoding: "utf8" },
  );
  return result.status === 0 ? JSON.parse(result.stdout.trim().split("\n").at(-1)!) : undefined;
}

if (process.argv[2] === "--child") {
  await child(Number(process.argv[3]));
} else {
  const counts = process.argv.slice(2).map(Number);
  for (const samples of counts.length > 0 ? counts : [50_000, 150_000, 300_000]) {
    // Smallest heap in 4 MB steps that still indexes: binary search over 16…512 MB.
    let [low, high] = [16, 512];
    let best = run(samples, high);
    if (!best) throw new Error(`${samples} samples do not index in ${high} MB`);
    while (high - low > 4) {
      const mid = Math.round((low + high) / 2);
      const r = run(samples, mid);
      if (r) [high, best] = [mid, r];
      else low = mid;
    }
    console.log(
      `${samples} samples: indexes in a ${high} MB heap (${((high * 2 ** 20) / samples).toFixed(0)} B/sample incl. baseline), ` +
        `${best.ms.toFixed(0)} ms, the index keeps ${best.keptBytesPerSample.toFixed(0)} B/sample`,
    );
  }
}
