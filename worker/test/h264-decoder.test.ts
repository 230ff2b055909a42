// FFmpeg's H.264 decoder in wasm, inside workerd, against ffmpeg itself: every
// keyframe of the shared fixtures decodes to the same YUV as
// `ffmpeg -skip_frame nokey -f framemd5` (fixtures/videos.global.ts).
import { createHash } from "node:crypto";
import { createFile, MP4BoxBuffer, type VisualSampleEntry } from "mp4box";
import { describe, expect, it, inject } from "vitest";
import { ApiError } from "../src/errors.ts";
import { createH264Decoder, h264MemoryBytes, type YuvFrame } from "../src/h264/decoder.ts";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { bytesSource } from "../src/mp4/source.ts";

const videos = inject("videos");

/** The fixture's avcC and its sync samples' bytes, in presentation order. */
async function keyframes(name: string): Promise<{ avcC: Uint8Array; samples: Uint8Array[]; times: number[] }> {
  const bytes = Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
  const { video } = await indexMp4(bytesSource(bytes, name));
  const sync = video.samples.filter((s) => s.isSync);
  return {
    avcC: video.avcC,
    samples: sync.map((s) => bytes.subarray(s.offset, s.offset + s.size)),
    times: sync.map((s) => s.pts),
  };
}

/**
 * The same straight from mp4box, for files indexMp4 refuses by their avcC
 * (10-bit, 4:2:2, 4:4:4): the decoder must refuse them on its own too, since
 * avc3 streams carry their SPS in the samples, where the index does not look.
 */
function rawKeyframes(name: string): { avcC: Uint8Array; samples: Uint8Array[] } {
  const bytes = Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
  const file = createFile();
  file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(bytes.slice().buffer, 0));
  file.flush();
  const trak = file.moov!.traks[0];
  const { start = 0, hdr_size = 0, size } = (trak.mdia.minf.stbl.stsd.entries[0] as VisualSampleEntry).avcC!;
  return {
    avcC: bytes.subarray(start + hdr_size, start + size),
    samples: trak.samples.filter((s) => s.is_sync).map((s) => bytes.subarray(s.offset, s.offset + s.size)),
  };
}

/** What ffmpeg's framemd5 hashes for yuv420p rawvideo: the cropped planes packed row after row. */
function framemd5(frame: YuvFrame): string {
  const md5 = createHash("md5");
  const planes: [Uint8Array, number, number, number][] = [
    [frame.y, frame.strideY, frame.width, frame.height],
    [frame.u, frame.strideUV, (frame.width + 1) >> 1, (frame.height + 1) >> 1],
    [frame.v, frame.strideUV, (frame.width + 1) >> 1, (frame.height + 1) >> 1],
  ];
  for (const [plane, stride, width, height] of planes) {
    for (let row = 0; row < height; row++) md5.update(plane.subarray(row * stride, row * stride + width));
  }
  return md5.digest("hex");
}

/** The ApiError a call throws (fails the test when it throws none or something else). */
function apiError(call: () => unknown): ApiError {
  try {
    call();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

describe("H.264 keyframes are bit-exact with ffmpeg", () => {
  for (const name of ["high_moov_end", "high_faststart", "baseline", "fragmented", "odd_size"]) {
    it(name, async () => {
      const fixture = videos[name];
      const { avcC, samples, times } = await keyframes(name);
      expect(times).toEqual(fixture.keyframeTimes);
      expect(samples).toHaveLength(fixture.keyframeMd5.length);
      const decoder = await createH264Decoder(avcC);
      try {
        // A picture is valid until the next decode: checked as it comes.
        const frames = samples.map((sample) => {
          const frame = decoder.decodeKeyframe(sample);
          return { size: [frame.width, frame.height], md5: framemd5(frame) };
        });
        for (const frame of frames) expect(frame.size).toEqual([fixture.width, fixture.height]);
        expect(frames.map((f) => f.md5)).toEqual(fixture.keyframeMd5);
      } finally {
        decoder.close();
      }
    });
  }

  it("decodes a keyframe the same after any other, in any order", async () => {
    const { avcC, samples } = await keyframes("high_moov_end");
    const decoder = await createH264Decoder(avcC);
    const reversed = samples.map((_, i) => framemd5(decoder.decodeKeyframe(samples[samples.length - 1 - i]))).reverse();
    decoder.close();
    expect(reversed).toEqual(videos.high_moov_end.keyframeMd5);
  });
});

describe("pictures other than 8-bit 4:2:0 are refused with 415", () => {
  for (const [name, format] of [
    ["high10", "yuv420p10le"],
    ["high422", "yuv422p"],
    ["high444", "yuv444p"],
  ]) {
    it(`${name} (${format})`, async () => {
      const { avcC, samples } = rawKeyframes(name);
      const decoder = await createH264Decoder(avcC);
      const error = apiError(() => decoder.decodeKeyframe(samples[0]));
      decoder.close();
      expect(error).toMatchObject({ status: 415, code: "unsupported_pixel_format" });
      expect(error.message).toContain(format);
    });
  }
});

describe("damaged input gets a 422 and the decoder keeps working", () => {
  it("truncated, overwritten, garbage and empty samples, each followed by a good keyframe", async () => {
    const { avcC, samples } = await keyframes("high_moov_end");
    const good = samples[1];
    const overwritten = Uint8Array.from(good);
    overwritten.fill(0x5a, good.length >> 1, (good.length >> 1) + 64); // inside the CABAC slice data
    const damaged = {
      truncated: good.subarray(0, good.length >> 1),
      overwritten,
      garbage: Uint8Array.from({ length: 1000 }, (_, i) => (i * 151 + 7) & 0xff),
      empty: new Uint8Array(0),
    };
    const decoder = await createH264Decoder(avcC);
    for (const [what, sample] of Object.entries(damaged)) {
      const error = apiError(() => decoder.decodeKeyframe(sample, `the ${what} keyframe`));
      expect(error, what).toMatchObject({ status: 422, code: "corrupt_video" });
      expect(error.message, what).toMatch(new RegExp(`^the ${what} keyframe `));
      expect(framemd5(decoder.decodeKeyframe(good)), `good after ${what}`).toBe(videos.high_moov_end.keyframeMd5[1]);
    }
    decoder.close();
  });

  it("an invalid avcC record is refused and the next decoder works", async () => {
    const error = await createH264Decoder(new Uint8Array([1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 50, 0x67])).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422, code: "corrupt_video" });
    expect((error as Error).message).toContain("avcC");
    const { avcC, samples } = await keyframes("baseline");
    const decoder = await createH264Decoder(avcC);
    expect(framemd5(decoder.decodeKeyframe(samples[0]))).toBe(videos.baseline.keyframeMd5[0]);
    decoder.close();
  });
});

it("100 keyframes through fresh and reused decoders leave the wasm memory where a few left it", async () => {
  const { avcC, samples } = await keyframes("high_moov_end");
  const run = async (decoders: number, perDecoder: number) => {
    for (let d = 0; d < decoders; d++) {
      const decoder = await createH264Decoder(avcC);
      for (let i = 0; i < perDecoder; i++) decoder.decodeKeyframe(samples[(d + i) % samples.length]);
      decoder.close();
    }
  };
  await run(2, 5);
  const warm = await h264MemoryBytes();
  await run(10, 10);
  expect(await h264MemoryBytes()).toBe(warm);
});

it("a full wasm heap (64 MiB) answers 503 and the decoder works again once memory is freed", async () => {
  const { avcC, samples } = await keyframes("high_moov_end");
  const open = [];
  let error: unknown;
  // Each decoder keeps its picture pool (~0.8 MiB at 320×240) until closed.
  try {
    for (let i = 0; i < 200 && error === undefined; i++) {
      const decoder = await createH264Decoder(avcC);
      open.push(decoder);
      decoder.decodeKeyframe(samples[0]);
    }
  } catch (e) {
    error = e;
  }
  expect(error).toMatchObject({ status: 503, code: "decoder_out_of_memory" });
  expect(await h264MemoryBytes()).toBeLessThanOrEqual(64 * 1024 * 1024);
  for (const decoder of open) decoder.close();
  const decoder = await createH264Decoder(avcC);
  expect(framemd5(decoder.decodeKeyframe(samples[2]))).toBe(videos.high_moov_end.keyframeMd5[2]);
  decoder.close();
});
