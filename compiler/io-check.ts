// The model must take and give what its manifest promises: the Worker builds
// its input tensor from the manifest, not from the model.
import type { Manifest } from "../contract/manifest.ts";
import { formatType, type Dim, type Model, type ValueInfo } from "./ir/index.ts";
import { CompileError } from "./errors.ts";

/** Throws CompileError naming `source` unless the model's inputs and outputs match the manifest. */
export function checkModelIo(model: Model, manifest: Manifest, source: string): void {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !initializers.has(i.name));
  const { input, output, labels } = manifest;
  expectOne(inputs, input.name, "input", source);
  expectNames(model.graph.outputs, output.classMap ? [output.name, output.classMap] : [output.name], "output", source);
  // NCTHW: a batch of RGB clips of `frames` crops, cropSize square.
  expectType(inputs[0], [3, input.frames, input.cropSize, input.cropSize], source);
  expectType(model.graph.outputs[0], [labels.length], source);
  const classMap = model.graph.outputs[1];
  if (classMap && !(classMap.type?.shape?.length === 5 && classMap.type.shape[1] === labels.length)) {
    throw new CompileError(`${source}: the class map %${classMap.name} is ${formatType(classMap.type)} but needs float32[N,${labels.length},T,H,W]`);
  }
}

function expectOne(values: readonly ValueInfo[], name: string, what: string, source: string): void {
  expectNames(values, [name], what, source);
}

function expectNames(values: readonly ValueInfo[], names: readonly string[], what: string, source: string): void {
  const found = values.map((v) => `%${v.name}`).join(", ");
  if (values.length !== names.length || names.some((n, i) => values[i].name !== n)) {
    const want = names.length === 1 ? `${what} is %${names[0]}` : `${what}s are [${names.map((n) => `%${n}`).join(", ")}]`;
    throw new CompileError(`${source}: the manifest's ${want} but the model's ${what}s are [${found}]`);
  }
}

/** float32 [batch, ...rest], where batch may be 1 or symbolic. */
function expectType(v: ValueInfo, rest: readonly number[], source: string): void {
  const shape = v.type?.shape;
  const batchOk = (d: Dim | undefined) => d === 1 || typeof d === "string";
  const ok =
    v.type?.dtype === "float32" &&
    shape !== undefined &&
    shape.length === rest.length + 1 &&
    batchOk(shape[0]) &&
    rest.every((d, i) => shape[i + 1] === d);
  if (!ok) {
    throw new CompileError(
      `${source}: %${v.name} is ${formatType(v.type)} but the manifest needs float32[N,${rest.join(",")}]`,
    );
  }
}
