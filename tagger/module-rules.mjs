// Node module hooks that give the Worker's modules in Node what wrangler.toml's
// [[rules]] give them in workerd: a .wasm import is a compiled
// WebAssembly.Module (CompiledWasm), an .onnx import is the file's bytes as an
// ArrayBuffer (Data). With them `npm run tag` imports the Worker's decoder and
// pipeline modules unchanged instead of forking them.

/** @param {string} url @param {object} context @param {Function} nextLoad */
export async function load(url, context, nextLoad) {
  const read = `(await import("node:fs")).readFileSync(new URL(${JSON.stringify(url)}))`;
  if (url.endsWith(".wasm")) {
    return { format: "module", shortCircuit: true, source: `export default await WebAssembly.compile(${read});` };
  }
  if (url.endsWith(".onnx")) {
    return { format: "module", shortCircuit: true, source: `const b = ${read}; export default b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);` };
  }
  return nextLoad(url, context);
}
