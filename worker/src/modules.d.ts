// Module types given by wrangler.toml's rules (and the vitest pool, which reads them).
declare module "*.wasm" {
  // CompiledWasm: Workers hand over a compiled module; compiling bytes at run time is refused.
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  // Data: the file's bytes.
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module "*?raw" {
  // Text (wrangler.toml's rule for worker/page/; Vite's raw import under vitest): the file's contents.
  const text: string;
  export default text;
}
