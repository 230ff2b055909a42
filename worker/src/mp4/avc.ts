// What the decoder needs to know before it sees a sample: the H.264 profile,
// chroma format and bit depth, from the AVCDecoderConfigurationRecord (avcC,
// ISO/IEC 14496-15 §5.3.3) and the start of its first SPS (H.264 §7.3.2.1.1).
// The Worker decodes 8-bit 4:2:0 only; High 10 / 4:2:2 / 4:4:4 are refused early.

export interface AvcConfig {
  profileIdc: number;
  levelIdc: number;
  /** 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4. */
  chromaFormat: number;
  bitDepth: number;
  /** Bytes of the NAL unit length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
}

export class AvcError extends Error {}

// Profiles whose SPS carries chroma_format_idc and bit depths (H.264 §7.3.2.1.1).
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export const PROFILE_NAMES: Record<number, string> = {
  66: "Baseline",
  77: "Main",
  88: "Extended",
  100: "High",
  110: "High 10",
  122: "High 4:2:2",
  244: "High 4:4:4 Predictive",
  44: "CAVLC 4:4:4 Intra",
};

/** Exp-Golomb reader over an RBSP (emulation-prevention bytes removed). */
class Bits {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw new AvcError("the SPS ends early");
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new AvcError("an SPS field is not valid Exp-Golomb");
    return 2 ** zeros - 1 + this.u(zeros);
  }
}

function rbsp(nal: Uint8Array): Uint8Array {
  // Drop the 0x03 of every 00 00 03 (emulation prevention, H.264 §7.4.1).
  const out: number[] = [];
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

/** profile, chroma format and bit depth from an SPS NAL unit (header byte included). */
function parseSps(nal: Uint8Array): Pick<AvcConfig, "profileIdc" | "chromaFormat" | "bitDepth"> {
  if (nal.length < 4 || (nal[0] & 0x1f) !== 7) throw new AvcError("the avcC's first parameter set is not an SPS");
  const bits = new Bits(rbsp(nal.subarray(1, 64)));
  const profileIdc = bits.u(8);
  bits.u(16); // constraint flags, level_idc
  bits.ue(); // seq_parameter_set_id
  if (!HIGH_PROFILES.has(profileIdc)) return { profileIdc, chromaFormat: 1, bitDepth: 8 };
  const chromaFormat = bits.ue();
  if (chromaFormat === 3) bits.u(1); // separate_colour_plane_flag
  const bitDepth = bits.ue() + 8;
  const bitDepthChroma = bits.ue() + 8;
  return { profileIdc, chromaFormat, bitDepth: Math.max(bitDepth, bitDepthChroma) };
}

/** Reads an avcC payload (the box body without its header). */
export function parseAvcC(avcC: Uint8Array): AvcConfig {
  if (avcC.length < 7 || avcC[0] !== 1) throw new AvcError("the avcC record is too short or not version 1");
  const profileIdc = avcC[1];
  const levelIdc = avcC[3];
  const nalLengthSize = (avcC[4] & 3) + 1;
  if (nalLengthSize === 3) throw new AvcError("the avcC gives a 3-byte NAL length, which H.264 does not allow");
  let at = 5;
  const spsCount = avcC[at++] & 0x1f;
  const sps: Uint8Array[] = [];
  for (let i = 0; i < spsCount; i++) {
    const len = (avcC[at] << 8) | avcC[at + 1];
    if (at + 2 + len > avcC.length) throw new AvcError("an SPS runs past the end of the avcC record");
    sps.push(avcC.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  const ppsCount = avcC[at++];
  for (let i = 0; i < ppsCount; i++) {
    if (at + 2 > avcC.length) throw new AvcError("a PPS runs past the end of the avcC record");
    at += 2 + ((avcC[at] << 8) | avcC[at + 1]);
  }
  if (at > avcC.length) throw new AvcError("a PPS runs past the end of the avcC record");
  if (sps.length > 0) return { ...parseSps(sps[0]), levelIdc, nalLengthSize };
  // avc3 may carry its SPS in band only: use the record's high-profile extension
  // (chroma_format, bit_depth_luma/chroma_minus8) when present.
  if (HIGH_PROFILES.has(profileIdc) && at + 3 <= avcC.length) {
    const chromaFormat = avcC[at] & 3;
    const bitDepth = Math.max(avcC[at + 1] & 7, avcC[at + 2] & 7) + 8;
    return { profileIdc, levelIdc, chromaFormat, bitDepth, nalLengthSize };
  }
  // Without either, the profile decides: High 10 and above allow more than 8-bit 4:2:0.
  const beyond = profileIdc === 110 || profileIdc === 122 || profileIdc === 244 || profileIdc === 44;
  return { profileIdc, levelIdc, chromaFormat: profileIdc === 122 ? 2 : profileIdc === 244 || profileIdc === 44 ? 3 : 1, bitDepth: beyond ? 10 : 8, nalLengthSize };
}
