// The isolate's wasm memories (ORT's and the H.264 decoder's), which grow and
// never shrink: their sizes go into every request's log line, so an operator
// (and `npm run bench:load`) sees where the isolate's 128 MB go.
const memories = new Map<string, WebAssembly.Memory>();

export function trackWasmMemory(name: string, memory: WebAssembly.Memory): void {
  memories.set(name, memory);
}

/** The first WebAssembly.Memory among an instance's exports or its imports' values (emscripten's threaded builds import theirs). */
export function findMemory(...namespaces: (object | undefined)[]): WebAssembly.Memory | undefined {
  for (const ns of namespaces) {
    for (const value of Object.values(ns ?? {})) {
      if (value instanceof WebAssembly.Memory) return value;
      if (value && typeof value === "object" && !(value instanceof WebAssembly.Module)) {
        const inner = Object.values(value).find((v) => v instanceof WebAssembly.Memory);
        if (inner) return inner as WebAssembly.Memory;
      }
    }
  }
  return undefined;
}

/** Bytes of each tracked wasm memory; empty before any was made. */
export function wasmMemoryBytes(): Record<string, number> {
  return Object.fromEntries([...memories].map(([name, memory]) => [name, memory.buffer.byteLength]));
}
