// indexMp4 on real ffmpeg-made files: samples, keyframe times and sizes equal
// ffprobe's, for moov at the end, faststart, fragmented, Baseline and odd sizes;
// and indexing reads only a small part of the file.
import { describe, expect, it } from "vitest";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { bytesSource } from "../src/mp4/source.ts";
import { videoBytes, videos } from "./fixtures/videos.ts";

const H264 = ["high_moov_end", "high_faststart", "baseline", "fragmented", "odd_size", "long_720p", "long_720p_fragmented"];

describe("indexMp4", () => {
  for (const name of H264) {
    it(`indexes ${name} as ffprobe sees it`, async () => {
      const truth = videos[name];
      const bytes = videoBytes(name);
      const index = await indexMp4(bytesSource(bytes, name));
      const { video } = index;
      expect(video.samples).toHaveLength(truth.sampleCount);
      const keyTimes = video.samples.filter((s) => s.isSync).map((s) => s.pts);
      expect(keyTimes).toHaveLength(truth.keyframeTimes.length);
      keyTimes.forEach((t, i) => expect(t).toBeCloseTo(truth.keyframeTimes[i], 5));
      expect([video.width, video.height]).toEqual([truth.width, truth.height]);
      expect(index.durationSeconds).toBeCloseTo(truth.durationSeconds, 1);
      expect(video.codec).toMatch(/^avc1\.[0-9a-f]{6}$/);
      expect(video.profileIdc).toBe(truth.profile.includes("Baseline") ? 66 : 100);
      expect(video.bitDepth).toBe(8);
      expect(video.avcC[0]).toBe(1); // configurationVersion
      expect(video.avcC[1]).toBe(video.profileIdc);
      for (let i = 1; i < video.samples.length; i++) expect(video.samples[i].pts).toBeGreaterThan(video.samples[i - 1].pts);
      for (const s of video.samples) {
        expect(s.offset + s.size).toBeLessThanOrEqual(bytes.length);
        // Every sample is length-prefixed NAL units: the first prefix fits in the sample.
        const nal = new DataView(bytes.buffer, s.offset, 4).getUint32(0);
        expect(nal).toBeLessThanOrEqual(s.size - 4);
      }
      // Keyframes start with an IDR slice or parameter sets / SEI before it.
      const key = video.samples.find((s) => s.isSync)!;
      const types = nalTypes(bytes.subarray(key.offset, key.offset + key.size));
      expect(types).toContain(5);
    });
  }

  it("reads a small part of the file: ratios printed", async () => {
    // Upper bounds on the share of the file read; the 720p ones stand for long files.
    const bounds: Record<string, number> = { high_moov_end: 0.05, high_faststart: 0.05, fragmented: 0.1, long_720p: 0.01, long_720p_fragmented: 0.02 };
    const ratios: Record<string, number> = {};
    const rows: string[] = [];
    for (const name of Object.keys(bounds)) {
      const size = videoBytes(name).length;
      const index = await indexMp4(bytesSource(videoBytes(name), name));
      ratios[name] = index.bytesRead / size;
      rows.push(`${name}: ${index.bytesRead} of ${size} bytes (${(100 * ratios[name]).toFixed(2)}%) in ${index.reads} reads`);
    }
    console.log(`index bytes read:\n  ${rows.join("\n  ")}`);
    for (const name of Object.keys(bounds)) expect(ratios[name], name).toBeLessThan(bounds[name]);
  });
});

function nalTypes(sample: Uint8Array): number[] {
  const types: number[] = [];
  const view = new DataView(sample.buffer, sample.byteOffset, sample.byteLength);
  for (let at = 0; at + 4 < sample.length; at += 4 + view.getUint32(at)) types.push(sample[at + 4] & 0x1f);
  return types;
}
