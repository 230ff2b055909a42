// The shared video fixtures arrive in workerd intact, with their ffprobe truth.
import { describe, expect, it, inject } from "vitest";

const videos = inject("videos");

describe("video fixtures", () => {
  it("has every recipe, each an MP4 that starts with ftyp", () => {
    for (const name of ["high_moov_end", "high_faststart", "baseline", "fragmented", "odd_size", "hevc", "vp9", "av1", "high10", "long_720p"]) {
      const bytes = Uint8Array.from(atob(videos[name].base64), (c) => c.charCodeAt(0));
      expect(new TextDecoder().decode(bytes.subarray(4, 8)), name).toBe("ftyp");
    }
    expect(videos.high_moov_end).toMatchObject({ codec: "h264", profile: "High", width: 320, height: 240, sampleCount: 100 });
    expect(videos.high_moov_end.keyframeMd5).toHaveLength(videos.high_moov_end.keyframeTimes.length);
    expect(videos.odd_size).toMatchObject({ width: 322, height: 178 });
  });
});
