// Entry of `npm run tag`. The module hooks (module-rules.mjs) go in first: the
// Worker's modules import .wasm and .onnx files as wrangler's rules define them.
export {};
await import("./register.mjs");
const { main } = await import("./tag.ts");
process.exitCode = await main(process.argv.slice(2));
