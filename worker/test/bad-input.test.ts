// Every user mistake is a 4xx with the JSON error body, never a 500, and the
// isolate keeps serving: each case is followed by a valid request that must succeed.
import { beforeAll, describe, expect, it } from "vitest";
import { classify, expectClassified, expectError, file, form, gradient, jpeg, png } from "./helpers.ts";

let good: File;
let goodPng: File;

beforeAll(async () => {
  good = file(await jpeg(48, 32, gradient(0)), "good.jpg", "image/jpeg");
  goodPng = file(await png(48, 32, gradient(1)), "good.png", "image/png");
});

/** A PNG that is only a signature and an IHDR chunk announcing width × height. */
function pngHeader(width: number, height: number): Uint8Array {
  const b = new Uint8Array(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 6, 0, 0, 0], 24);
  return b;
}

/** A JPEG that is only SOI and a baseline frame header announcing width × height. */
function jpegHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0]);
}

/** A real JPEG's headers up to and including its frame header, then garbage. */
async function corruptJpeg(): Promise<Uint8Array> {
  const real = await jpeg(48, 32, gradient(2));
  let i = 2;
  while (!(real[i + 1] >= 0xc0 && real[i + 1] <= 0xc2)) i += 2 + ((real[i + 2] << 8) | real[i + 3]);
  const end = i + 2 + ((real[i + 2] << 8) | real[i + 3]);
  const garbage = Uint8Array.from({ length: 300 }, (_, k) => (k * 37 + 11) & 255);
  const out = new Uint8Array(end + garbage.length);
  out.set(real.subarray(0, end));
  out.set(garbage, end);
  return out;
}

const frames = (...files: File[]) => form(files);

interface Case {
  name: string;
  status: number;
  code: string;
  send: () => Promise<Response>;
  /** Extra checks on the message. */
  says?: RegExp;
}

const cases: Case[] = [
  { name: "no body", status: 400, code: "empty_body", send: () => classify(null) },
  {
    name: "JSON with frames in it",
    status: 400,
    code: "invalid_option",
    send: () => classify(JSON.stringify({ frames: [] }), "", { "content-type": "application/json" }),
  },
  {
    name: "a plain-text body",
    status: 415,
    code: "unsupported_media_type",
    send: () => classify("frames please", "", { "content-type": "text/plain" }),
  },
  {
    name: "a raw JPEG body",
    status: 415,
    code: "unsupported_media_type",
    send: async () => classify(await good.arrayBuffer(), "", { "content-type": "image/jpeg" }),
  },
  {
    name: "multipart that does not parse",
    status: 400,
    code: "malformed_multipart",
    send: () => classify("this is not multipart", "", { "content-type": "multipart/form-data; boundary=XYZ" }),
  },
  { name: "no frames field", status: 400, code: "missing_input", send: () => classify(form([], { topk: "1" })) },
  {
    name: "frames and a url",
    status: 400,
    code: "ambiguous_input",
    send: () => classify(form([good], { url: "https://example.com/a.mp4" })),
    says: /"frames" files and url/,
  },
  { name: "clips with frames", status: 400, code: "invalid_option", send: () => classify(frames(good), "?clips=2"), says: /video input/ },
  {
    name: "frames as a text field",
    status: 400,
    code: "frame_not_a_file",
    send: () => {
      const f = new FormData();
      f.append("frames", "not a file");
      return classify(f);
    },
  },
  {
    name: "a text file",
    status: 415,
    code: "unsupported_frame_type",
    send: () => classify(frames(good, file(new TextEncoder().encode("hello, world"), "notes.jpg", "image/jpeg"))),
    says: /frames\[1\]/,
  },
  {
    name: "an MP4",
    status: 415,
    code: "unsupported_frame_type",
    send: () => classify(frames(file(new Uint8Array([0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0]), "clip.mp4", "video/mp4"))),
    says: /MP4/,
  },
  { name: "a zero-length file", status: 400, code: "empty_frame", send: () => classify(frames(good, file(new Uint8Array(0), "empty.jpg"))) },
  {
    name: "a corrupt JPEG",
    status: 400,
    code: "corrupt_frame",
    send: async () => classify(frames(file(await corruptJpeg(), "broken.jpg", "image/jpeg"))),
    says: /JPEG could not be decoded/,
  },
  {
    name: "a JPEG without a frame header",
    status: 400,
    code: "corrupt_frame",
    send: () => classify(frames(file(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), "tiny.jpg"))),
  },
  {
    name: "a truncated PNG",
    status: 400,
    code: "corrupt_frame",
    send: async () => classify(frames(file(new Uint8Array(await goodPng.arrayBuffer()).slice(0, 60), "cut.png"))),
  },
  { name: "too many frames", status: 400, code: "too_many_frames", send: () => classify(frames(...Array<File>(65).fill(good))) },
  {
    name: "a PNG header claiming 5000×5000",
    status: 413,
    code: "frame_too_large",
    send: () => classify(frames(file(pngHeader(5000, 5000), "huge.png"))),
    says: /5000×5000/,
  },
  {
    name: "a JPEG header claiming 4096×4096 (over the pixel cap)",
    status: 413,
    code: "frame_too_large",
    send: () => classify(frames(file(jpegHeader(4096, 4096), "huge.jpg"))),
  },
  {
    name: "frames of different sizes",
    status: 400,
    code: "frame_size_mismatch",
    send: async () => classify(frames(good, file(await jpeg(32, 48, gradient(1)), "rotated.jpg"))),
    says: /32×48.*48×32/,
  },
  { name: "an unknown model", status: 404, code: "unknown_model", send: () => classify(frames(good), "?model=nope") },
  { name: "an unknown version", status: 404, code: "unknown_version", send: () => classify(frames(good), "?version=9.9.9") },
  { name: "topk 0", status: 400, code: "invalid_option", send: () => classify(frames(good), "?topk=0") },
  { name: "topk not a number", status: 400, code: "invalid_option", send: () => classify(frames(good), "?topk=five") },
  { name: "topk above the label count", status: 400, code: "topk_out_of_range", send: () => classify(frames(good), "?topk=10001") },
  { name: "topk given twice", status: 400, code: "invalid_option", send: () => classify(form([good], { topk: "1" }), "?topk=2") },
  { name: "a model id with a path in it", status: 400, code: "invalid_option", send: () => classify(frames(good), "?model=../secrets") },
  { name: "an unknown option", status: 400, code: "unknown_option", send: () => classify(frames(good), "?top_k=3"), says: /top_k/ },
  {
    name: "a body over the limit (content-length)",
    status: 413,
    code: "body_too_large",
    send: () => classify(form([file(new Uint8Array(2 * 1024 * 1024 + 1), "big.jpg")])),
  },
  {
    name: "a streamed body over the limit",
    status: 413,
    code: "body_too_large",
    send: () => {
      const chunk = new Uint8Array(512 * 1024);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 6) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return classify(stream, "", { "content-type": "multipart/form-data; boundary=XYZ" });
    },
  },
];

describe("bad input → 4xx JSON, then a valid request still succeeds", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const body = await expectError(await c.send(), c.status, c.code);
      if (c.says) expect(body.error.message).toMatch(c.says);
      await expectClassified(await classify(frames(good)));
    });
  }

  it("says what is accepted: MP4 bodies and uploads, frames, R2 keys and URLs", async () => {
    const body = await expectError(await classify("{}", "", { "content-type": "application/json" }), 400, "missing_input");
    for (const input of [/video\/mp4/, /multipart\/form-data/, /"video"/, /"frames"/, /r2Key/, /url/]) expect(body.error.accepted).toMatch(input);
  });

  it("topk out of range names the model's label count", async () => {
    const body = await expectError(await classify(frames(good), "?topk=999"), 400, "topk_out_of_range");
    expect(body.error.accepted).toMatch(/^topk: an integer from 1 to \d+$/);
  });
});
