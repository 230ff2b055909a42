// Every way an MP4 can be unusable ends in a userError (4xx, a code, a message
// naming the problem and what is accepted), never a crash. The files are the
// real fixtures, cut or patched where a box says what the test needs.
import { describe, expect, it } from "vitest";
import { ApiError } from "../src/errors.ts";
import { LIMITS } from "../src/limits.ts";
import { indexMp4, type Mp4Limits } from "../src/mp4/index-mp4.ts";
import { bytesSource } from "../src/mp4/source.ts";
import { videoBytes } from "./fixtures/videos.ts";

async function refusal(bytes: Uint8Array, limits: Partial<Mp4Limits> = {}): Promise<ApiError> {
  try {
    await indexMp4(bytesSource(bytes, "test.mp4"), limits);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThan(500);
    expect(e.accepted).toBeTruthy();
    expect(e.message).toMatch(/^test\.mp4: /);
    return e;
  }
  throw new Error("indexMp4 accepted the file");
}

async function expectRefused(bytes: Uint8Array, status: number, code: string, message: RegExp, limits: Partial<Mp4Limits> = {}) {
  const e = await refusal(bytes, limits);
  expect({ status: e.status, code: e.code }).toEqual({ status, code });
  expect(e.message).toMatch(message);
}

const ascii = (text: string) => new TextEncoder().encode(text);

/** Position of the first box of `type` at or after `from` (its size field). */
function boxAt(bytes: Uint8Array, type: string, from = 0): number {
  const t = ascii(type);
  for (let i = from + 4; i + 4 <= bytes.length; i++) {
    if (bytes[i] === t[0] && bytes[i + 1] === t[1] && bytes[i + 2] === t[2] && bytes[i + 3] === t[3]) return i - 4;
  }
  throw new Error(`no ${type} box`);
}

/** The top-level boxes: [type, start, size]. */
function topLevel(bytes: Uint8Array): [string, number, number][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const out: [string, number, number][] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = view.getUint32(at);
    out.push([new TextDecoder().decode(bytes.subarray(at + 4, at + 8)), at, size]);
    at += size;
  }
  return out;
}

const moovOf = (bytes: Uint8Array) => topLevel(bytes).find(([t]) => t === "moov")![1];
const u32 = (bytes: Uint8Array, at: number, value: number) => new DataView(bytes.buffer, bytes.byteOffset).setUint32(at, value);

describe("indexMp4 refuses unusable files", () => {
  it("empty", () => expectRefused(new Uint8Array(0), 400, "empty_video", /empty \(0 bytes\)/));

  it("not an MP4, naming what it looks like", async () => {
    await expectRefused(ascii("hello, this is a text file and not a video"), 415, "not_mp4", /not an MP4 \(no ISO BMFF/);
    await expectRefused(Uint8Array.from([0x1a, 0x45, 0xdf, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0x1f]), 415, "not_mp4", /WebM\/Matroska/);
    await expectRefused(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]), 415, "not_mp4", /JPEG image/);
    await expectRefused(new Uint8Array([0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0xac]), 415, "not_mp4", /Annex B/);
    // Box-shaped but with a type no MP4 starts with.
    const odd = videoBytes("high_faststart");
    odd.set(ascii("abcd"), 4);
    await expectRefused(odd, 415, "not_mp4", /not an MP4/);
    await expectRefused(ascii("ftyp"), 415, "not_mp4", /not an MP4/);
  });

  it("a still image (HEIF brand)", async () => {
    const heif = videoBytes("high_faststart");
    heif.set(ascii("heic"), 8);
    await expectRefused(heif, 415, "not_a_video", /still image/);
  });

  it("truncated: in mdat, in moov, in a fragment, in a box header", async () => {
    const faststart = videoBytes("high_faststart");
    await expectRefused(faststart.subarray(0, faststart.length / 2), 422, "truncated_video", /mdat box at byte \d+ needs \d+ bytes .* truncated/);
    const moovEnd = videoBytes("high_moov_end");
    await expectRefused(moovEnd.subarray(0, moovEnd.length - 100), 422, "truncated_video", /moov box .* truncated/);
    const fragmented = videoBytes("fragmented");
    await expectRefused(fragmented.subarray(0, fragmented.length - 1000), 422, "truncated_video", /truncated/);
    const [, mdatStart] = topLevel(moovEnd).find(([t]) => t === "mdat")!;
    const mdatEnd = moovOf(moovEnd);
    expect(mdatStart).toBeLessThan(mdatEnd);
    await expectRefused(moovEnd.subarray(0, mdatEnd + 5), 422, "truncated_video", /box header at byte \d+.*truncated/);
  });

  it("no moov (cut right after the mdat)", async () => {
    const moovEnd = videoBytes("high_moov_end");
    await expectRefused(moovEnd.subarray(0, moovOf(moovEnd)), 422, "no_moov", /no moov box/);
  });

  it("no video track", () => expectRefused(videoBytes("audio_only"), 422, "no_video_track", /no video track/));

  it("HEVC (hvc1 and hev1), VP9 and AV1, named", async () => {
    await expectRefused(videoBytes("hevc"), 415, "unsupported_codec", /HEVC \(H\.265, hvc1\).*only H\.264/);
    const hev1 = videoBytes("hevc");
    hev1.set(ascii("hev1"), boxAt(hev1, "hvc1", moovOf(hev1)) + 4);
    await expectRefused(hev1, 415, "unsupported_codec", /HEVC \(H\.265, hev1\)/);
    await expectRefused(videoBytes("vp9"), 415, "unsupported_codec", /VP9 \(vp09\)/);
    await expectRefused(videoBytes("av1"), 415, "unsupported_codec", /AV1 \(av01\)/);
  });

  it("10-bit, 4:2:2 and 4:4:4 H.264", async () => {
    await expectRefused(videoBytes("high10"), 415, "unsupported_bit_depth", /10-bit \(High 10\)/);
    await expectRefused(videoBytes("high422"), 415, "unsupported_chroma", /4:2:2 \(High 4:2:2\)/);
    await expectRefused(videoBytes("high444"), 415, "unsupported_chroma", /4:4:4 \(High 4:4:4 Predictive\)/);
  });

  it("a corrupt avcC", async () => {
    const bytes = videoBytes("high_faststart");
    const avcC = boxAt(bytes, "avcC", moovOf(bytes));
    bytes[avcC + 8] = 7; // configurationVersion must be 1
    await expectRefused(bytes, 422, "corrupt_video", /avcC/);
  });

  it("no keyframes (every stss entry points at no sample)", async () => {
    const bytes = videoBytes("high_faststart");
    const stss = boxAt(bytes, "stss", moovOf(bytes));
    const count = new DataView(bytes.buffer).getUint32(stss + 12);
    for (let i = 0; i < count; i++) u32(bytes, stss + 16 + 4 * i, 0);
    await expectRefused(bytes, 422, "no_keyframes", /no keyframes/);
  });

  it("absurd dimensions: 0, larger than 4096, or over a caller's limit", async () => {
    for (const [w, h] of [[0, 240], [320, 0], [5000, 240], [320, 4097]]) {
      const bytes = videoBytes("high_faststart");
      const avc1 = boxAt(bytes, "avc1", moovOf(bytes));
      const view = new DataView(bytes.buffer);
      view.setUint16(avc1 + 32, w);
      view.setUint16(avc1 + 34, h);
      await expectRefused(bytes, 422, "bad_dimensions", new RegExp(`${w}×${h}`));
    }
    await expectRefused(videoBytes("high_faststart"), 422, "bad_dimensions", /320×240/, { maxSide: 256 });
  });

  it("too long: by the default limit (a patched mvhd) and by a caller's smaller one", async () => {
    const bytes = videoBytes("high_faststart");
    const mvhd = boxAt(bytes, "mvhd", moovOf(bytes));
    u32(bytes, mvhd + 12 + 8, 1000); // timescale
    u32(bytes, mvhd + 12 + 12, 4 * 3600 * 1000); // duration: 4 h
    await expectRefused(bytes, 422, "video_too_long", new RegExp(`14400\\.0 s; at most ${LIMITS.videoSeconds} s`));
    await expectRefused(videoBytes("high_moov_end"), 422, "video_too_long", /4\.0 s; at most 2 s/, { maxSeconds: 2 });
    await expectRefused(videoBytes("fragmented"), 422, "video_too_long", /at most 2 s/, { maxSeconds: 2 });
  });

  it("sample tables pointing outside the file", async () => {
    const bytes = videoBytes("high_faststart");
    const stco = boxAt(bytes, "stco", moovOf(bytes));
    u32(bytes, stco + 16, bytes.length - 10); // first chunk starts 10 bytes before the end
    await expectRefused(bytes, 422, "corrupt_sample_table", /sample 0 at bytes \d+\+\d+, outside the file/);
  });

  it("too many samples: a caller's limit, a 20-byte stsz claiming 2^31 samples, a trun claiming 2^31", async () => {
    await expectRefused(videoBytes("high_moov_end"), 422, "too_many_samples", /more than 50 samples/, { maxSamples: 50 });
    await expectRefused(videoBytes("fragmented"), 422, "too_many_samples", /more than 50 samples/, { maxSamples: 50 });
    const constant = videoBytes("high_faststart");
    const stsz = boxAt(constant, "stsz", moovOf(constant));
    u32(constant, stsz + 12, 100); // a constant sample size: no table follows the count
    u32(constant, stsz + 16, 2 ** 31);
    await expectRefused(constant, 422, "too_many_samples", new RegExp(`more than ${LIMITS.videoSamples} samples`));
    const table = videoBytes("high_faststart");
    u32(table, boxAt(table, "stsz", moovOf(table)) + 16, 2 ** 31);
    await expectRefused(table, 422, "corrupt_video", /stsz box is too short for its 2147483648 sample sizes/);
    const fragmented = videoBytes("fragmented");
    const trun = boxAt(fragmented, "trun", boxAt(fragmented, "moof"));
    u32(fragmented, trun + 8, 0); // no per-sample fields …
    u32(fragmented, trun + 12, 2 ** 31); // … so a huge count fits in the box
    await expectRefused(fragmented, 422, "too_many_samples", new RegExp(`more than ${LIMITS.videoSamples}`));
  });

  it("a box with an impossible size or type inside the file", async () => {
    const bytes = videoBytes("high_moov_end");
    u32(bytes, moovOf(bytes), 4); // moov size below its header
    await expectRefused(bytes, 422, "corrupt_video", /impossible size 4/);
    const typed = videoBytes("high_moov_end");
    typed.set([0, 1, 2, 3], moovOf(typed) + 4);
    await expectRefused(typed, 422, "corrupt_video", /no valid type/);
    const inner = videoBytes("high_faststart");
    u32(inner, boxAt(inner, "trak", moovOf(inner)), 1 << 30); // a trak larger than its moov
    await expectRefused(inner, 422, "corrupt_video", /moov box at byte \d+ is corrupt: the trak box inside moov runs past its end/);
  });

  it("a file without ftyp (an old QuickTime layout) still indexes", async () => {
    const bytes = videoBytes("high_faststart");
    bytes.set(ascii("free"), 4);
    const index = await indexMp4(bytesSource(bytes));
    expect(index.video.codec).toBe("avc1.64000d");
    expect(index.video.samples).toHaveLength(100);
  });

  it("a last box of size 0 (to the end of the file) is walked like any other", async () => {
    for (const name of ["high_faststart", "high_moov_end"]) {
      const bytes = videoBytes(name);
      const [, start] = topLevel(bytes).at(-1)!;
      u32(bytes, start, 0);
      expect((await indexMp4(bytesSource(bytes))).video.samples, name).toHaveLength(100);
    }
  });

  it("a largesize (64-bit) mdat header is walked like any other", async () => {
    // Rewrite free(8) + mdat(8-byte header) as an mdat with a 16-byte header.
    const bytes = videoBytes("high_moov_end");
    const [[, , ftypSize], free, mdat] = topLevel(bytes);
    expect([free[0], mdat[0], free[2]]).toEqual(["free", "mdat", 8]);
    const view = new DataView(bytes.buffer);
    view.setUint32(ftypSize, 1);
    bytes.set(ascii("mdat"), ftypSize + 4);
    view.setBigUint64(ftypSize + 8, BigInt(mdat[2] + 8));
    const index = await indexMp4(bytesSource(bytes));
    expect(index.video.samples).toHaveLength(100);
  });
});
