// The shared video fixtures arrive in workerd intact, with their ffprobe truth.
import { describe, expect, it } from "vitest";
import { videoBytes, videos } from "./fixtures/videos.ts";

describe("video fixtures", () => {
  it("has every recipe, each an MP4 that starts with ftyp", () => {
    for (const name of ["high_moov_end", "high_faststart", "baseline", "fragmented", "odd_size", "hevc", "vp9", "av1", "high10", "long_720p"]) {
      expect(new TextDecoder().decode(videoBytes(name).subarray(4, 8)), name).toBe("ftyp");
    }
    expect(videos.high_moov_end).toMatchObject({ codec: "h264", profile: "High", width: 320, height: 240, sampleCount: 100 });
    expect(videos.high_moov_end.keyframeMd5).toHaveLength(videos.high_moov_end.keyframeTimes.length);
    expect(videos.odd_size).toMatchObject({ width: 322, height: 178 });
    expect(videos.long_720p).toMatchObject({ width: 1280, height: 720, durationSeconds: 60 });
  });
});
