// The Worker that worker/scripts/bench-decode.ts runs in workerd: POST an MP4 to
// load it (index + decoder), then GET /?k=K&reps=R decodes keyframe K R times.
// Timing happens outside: inside workerd the clocks stand still while code runs.
import { createH264Decoder, type H264Decoder } from "../src/h264/decoder.ts";
import { indexMp4 } from "../src/mp4/index-mp4.ts";
import { bytesSource } from "../src/mp4/source.ts";

let loaded: { decoder: H264Decoder; keyframes: Uint8Array[] } | undefined;

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method === "POST") {
      const bytes = new Uint8Array(await request.arrayBuffer());
      const { video } = await indexMp4(bytesSource(bytes, "the benchmark video"));
      loaded?.decoder.close();
      loaded = {
        decoder: await createH264Decoder(video.avcC),
        keyframes: video.samples.filter((s) => s.isSync).map((s) => bytes.subarray(s.offset, s.offset + s.size)),
      };
      const keyframeBytes = loaded.keyframes.reduce((sum, k) => sum + k.length, 0);
      return Response.json({ keyframes: loaded.keyframes.length, keyframeBytes: keyframeBytes / loaded.keyframes.length });
    }
    if (!loaded) return new Response("POST a video first", { status: 409 });
    const url = new URL(request.url);
    const sample = loaded.keyframes[Number(url.searchParams.get("k"))];
    const reps = Number(url.searchParams.get("reps"));
    for (let i = 0; i < reps; i++) loaded.decoder.decodeKeyframe(sample);
    return new Response("ok");
  },
};
