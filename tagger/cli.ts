// Entry of `npm run tag`. The module hooks (module-rules.mjs) go in first: the
// Worker's modules import .wasm and .onnx files as wrangler's rules define them.
export {};
// npm runs scripts in the package's folder; paths on the command line are the user's.
if (process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
await import("./register.mjs");
const { main } = await import("./tag.ts");
process.exitCode = await main(process.argv.slice(2));
