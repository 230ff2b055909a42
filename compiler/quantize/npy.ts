// Reading and writing NumPy .npy files (format 1.0-3.0), float32 little-endian
// C-order only: the calibration and evaluation sets are clips dumped from the
// Python evaluator with np.save.
export interface NpyArray {
  readonly shape: number[];
  readonly data: Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses an .npy; throws an Error whose message says what is wrong (the caller adds the file). */
export function parseNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error("not a .npy file (no \\x93NUMPY magic)");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [headerLength, headerStart] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`unreadable .npy header ${header.trim()}`);
  if (descr !== "<f4") throw new Error(`dtype ${descr}, expected float32 ('<f4')`);
  if (fortran === "True") throw new Error("Fortran-ordered array, expected C order");
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLength;
  if (bytes.length - start !== count * 4) {
    throw new Error(`shape [${shape}] needs ${count * 4} data bytes, the file has ${bytes.length - start}`);
  }
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(start));
  return { shape, data };
}

/** An .npy (format 1.0) of a float32 array: for tests and for dumping clips. */
export function encodeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Header padded with spaces and ended by \n so the data starts 64-byte aligned.
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out.set([1, 0, header.length & 0xff, header.length >> 8], 6);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
