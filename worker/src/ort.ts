// onnxruntime-web inside workerd. Workers refuse to compile wasm from bytes at
// run time, and ORT has no option that takes a compiled module. So ORT gets a
// marker in place of the wasm binary, and the one WebAssembly.instantiate call
// that receives the marker is answered with the module wrangler compiled for us
// (SYSTEM.md: measured to work and to match onnxruntime-node to 3e-8).
import * as ort from "onnxruntime-web/wasm";
// A path, not the package's "./ort-wasm-simd-threaded.wasm" export: wrangler's
// module collector does not resolve that export (it looks for worker/src/onnxruntime-web/…).
import ortWasm from "../../node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm";
import { findMemory, trackWasmMemory } from "./memory.ts";

const MARKER = new TextEncoder().encode("edgevid: use the imported ORT wasm module");

function isMarker(source: unknown): boolean {
  const bytes =
    source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : ArrayBuffer.isView(source)
        ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
        : null;
  return bytes !== null && bytes.length === MARKER.length && bytes.every((b, i) => b === MARKER[i]);
}

let configured = false;

// Done on first use, not at import: Cloudflare gives a Worker 1 s to start.
function configure(): void {
  if (configured) return;
  configured = true;
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source: unknown, imports?: WebAssembly.Imports) {
    if (!isMarker(source)) return instantiate.call(WebAssembly, source as BufferSource, imports);
    const instance = await instantiate.call(WebAssembly, ortWasm, imports);
    const memory = findMemory(instance.exports, imports);
    if (memory) trackWasmMemory("ort", memory);
    return { instance, module: ortWasm };
  } as typeof WebAssembly.instantiate;
  ort.env.wasm.wasmBinary = MARKER;
  // Only the threaded build ships for the CPU EP; Workers have no threads to give it.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
}

export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** One ONNX session. Runs are queued so that concurrent requests never overlap inside ORT. */
export class Session {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly inner: ort.InferenceSession) {}

  static async create(bytes: Uint8Array): Promise<Session> {
    configure();
    return new Session(await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] }));
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /** Feeds one float32 tensor and returns the named float32 outputs, in order (only those are fetched). */
  run(input: string, data: Float32Array, dims: readonly number[], outputs: readonly string[]): Promise<OutputTensor[]> {
    const result = this.queue.then(async () => {
      const fetched = await this.inner.run({ [input]: new ort.Tensor("float32", data, dims) }, [...outputs]);
      return outputs.map((name) => {
        const tensor = fetched[name];
        if (tensor?.type !== "float32") throw new Error(`model output "${name}" is missing or not float32`);
        return { data: tensor.data as Float32Array, dims: tensor.dims };
      });
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Frees ORT's memory for this session after the runs already queued. */
  release(): Promise<void> {
    const done = this.queue.then(() => this.inner.release());
    this.queue = done.catch(() => undefined);
    return done;
  }
}
