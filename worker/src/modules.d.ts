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
