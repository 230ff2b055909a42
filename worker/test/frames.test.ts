// Frame identification and decoding inside workerd.
import { describe, expect, it } from "vitest";
import { decodeFrame, inspectFrame, sniffType } from "../src/frames.ts";
import { gradient, jpeg, png, rgba } from "./helpers.ts";

describe("frames", () => {
  it("PNG decodes to exactly the pixels that were encoded", async () => {
    const bytes = await png(23, 17, gradient(4));
    const header = inspectFrame(bytes, "f");
    expect(header).toEqual({ type: "png", width: 23, height: 17 });
    const image = await decodeFrame(bytes.buffer as ArrayBuffer, header, "f");
    expect(Array.from(image.data)).toEqual(Array.from(rgba(23, 17, gradient(4)).data));
  });

  it("JPEG decodes to the encoded size and close to the encoded pixels", async () => {
    const flat = () => [200, 100, 50] as [number, number, number];
    const bytes = await jpeg(40, 30, flat);
    const header = inspectFrame(bytes, "f");
    expect(header).toEqual({ type: "jpeg", width: 40, height: 30 });
    const image = await decodeFrame(bytes.buffer as ArrayBuffer, header, "f");
    expect([image.width, image.height]).toEqual([40, 30]);
    for (let i = 0; i < image.data.length; i += 4) {
      expect(Math.abs(image.data[i] - 200) + Math.abs(image.data[i + 1] - 100) + Math.abs(image.data[i + 2] - 50)).toBeLessThan(12);
    }
  });

  it("sniffs magic bytes only", () => {
    expect(sniffType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(sniffType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe("png");
    expect(sniffType(new TextEncoder().encode("GIF89a"))).toBeNull();
    expect(sniffType(new Uint8Array([0xff, 0xd8]))).toBeNull();
  });

  it("reads JPEG dimensions past APPn segments and fill bytes", () => {
    const app = [0xff, 0xe1, 0, 6, 1, 2, 3, 4];
    const sof2 = [0xff, 0xff, 0xc2, 0, 11, 8, 0x02, 0xd0, 0x05, 0x00, 1, 1, 0x11, 0];
    expect(inspectFrame(new Uint8Array([0xff, 0xd8, ...app, ...sof2]), "f")).toEqual({ type: "jpeg", width: 1280, height: 720 });
  });

  it("a decoder failure does not break the next decode", async () => {
    const good = await jpeg(16, 16, gradient(0));
    const bad = good.slice(0);
    bad.fill(0x55, bad.length - 200);
    bad.set([0xff, 0xc4, 0, 3, 0xff], bad.length - 200); // a Huffman table segment cut short
    await expect(decodeFrame(bad.buffer as ArrayBuffer, inspectFrame(bad, "bad"), "bad")).rejects.toMatchObject({ code: "corrupt_frame" });
    const image = await decodeFrame(good.buffer as ArrayBuffer, inspectFrame(good, "good"), "good");
    expect(image.width).toBe(16);
  });
});
