// Adds a second graph output, %class_map [N, K, T', H', W']: how much each
// location of the head's pooled feature map F contributes to each class logit,
//   class_map[k, l] = Σ_c J[k, c] · F[c, l] / L,   J = ∂logits / ∂mean_l(F),
// which is Grad-CAM at the pool's input before its ReLU (its weights are J/L),
// computed forward-only so the edge can explain without gradients. For a
// linear head Σ_l class_map[k, l] = logit_k − bias_k exactly, and so it is for
// X3D's head too (its ReLU follows a bias-free 1×1×1 conv, so it is linear on
// each side of the mask). J is folded into constants up to the last ReLU; each
// ReLU's mask comes from the pooled forward pass the model already runs.
import { CompileError } from "../errors.ts";
import {
  attr,
  constantInitializers,
  definedNames,
  getFloat,
  getInt,
  getInts,
  inferShapes,
  isGlobalPool,
  makeNode,
  makeTensor,
  producerIndex,
  uniqueName,
  valueInfo,
  type Dim,
  type Graph,
  type Model,
  type Node,
  type Tensor,
} from "../ir/index.ts";
import type { Manifest } from "../../contract/manifest.ts";
import { eliminateDeadNodes } from "./eliminate-dead-nodes.ts";
import { count, type Pass } from "./pass.ts";

export const CLASS_MAP_OUTPUT = "class_map";

/** Ops after the pool that leave a per-sample vector's values in order (only singleton axes move). */
const REARRANGE = new Set(["Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"]);
const SUPPORTED = "Conv 1×1×1, MatMul, Gemm, Add/Sub/Mul by a constant, Relu, Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Dropout";

/** A step of the head between the pool and the logits, as it acts on one sample's vector. */
type Step =
  | { kind: "linear"; matrix: Float32Array; rows: number; cols: number }
  | { kind: "scale"; values: Float32Array }
  | { kind: "relu"; input: string };

export const exposeClassMap: Pass = {
  name: "expose-class-map",
  run(graph) {
    if (graph.outputs.length !== 1) {
      throw new CompileError(`expose-class-map: the graph has ${graph.outputs.length} outputs; it needs exactly one (the logits)`);
    }
    const typed = inferShapes(graph, "expose-class-map");
    const shapes = new Map<string, readonly Dim[] | undefined>();
    for (const v of [...typed.inputs, ...typed.valueInfo, ...typed.outputs]) shapes.set(v.name, v.type?.shape);
    const constants = constantInitializers(graph);
    const producers = producerIndex(graph);
    const logits = graph.outputs[0].name;
    const classes = vectorLength(logits, shapes.get(logits));

    // Back from the logits to the pool that averages a real map: the first
    // pool on the way whose input has more than one location.
    const chain: Node[] = [];
    let value = logits;
    let pool: Node | undefined;
    while (!pool) {
      const index = producers.get(value);
      if (index === undefined) throw new CompileError(`expose-class-map: found no global average pool between the input and %${logits}`);
      const node = graph.nodes[index];
      const input = chainInput(node, constants);
      const spatial = shapes.get(input)?.slice(2) ?? [];
      if (isMeanPool(node, shapes.get(input), constants) && locations(spatial, input) > 1) pool = node;
      else chain.unshift(node);
      value = input;
    }
    const features = value;
    const featureShape = shapes.get(features)!;
    const channels = featureShape[1];
    if (typeof channels !== "number") throw new CompileError(`expose-class-map: the pooled map %${features} has no fixed channel count`);
    const grid = featureShape.slice(2) as number[];
    const size = locations(grid, features);

    const steps = chain.flatMap((node) => step(node, constants, shapes));
    const taken = definedNames(graph);
    const fresh = (base: string) => {
      const name = uniqueName(taken, base);
      taken.add(name);
      return name;
    };
    const nodes: Node[] = [];
    const initializers: Tensor[] = [];
    const constant = (base: string, dtype: "float32" | "int64", dims: number[], data: Float32Array | BigInt64Array) => {
      const name = fresh(`class_map/${base}`);
      initializers.push(makeTensor(name, dtype, dims, data));
      return name;
    };
    const shape = (base: string, dims: number[]) => constant(base, "int64", [dims.length], BigInt64Array.from(dims, BigInt));
    const add = (op: string, inputs: string[], base: string, attributes: Node["attributes"] = {}) => {
      const output = fresh(`class_map/${base}`);
      nodes.push(makeNode(op, inputs, [output], attributes, output));
      return output;
    };

    // J as a constant [K, D] while no mask is involved, then a value [N, K, D].
    let folded: { data: Float32Array; cols: number } = { data: identity(classes), cols: classes };
    let jacobian: string | undefined;
    let zero: string | undefined;
    for (const s of [...steps].reverse()) {
      if (s.kind === "linear") {
        if (!jacobian && s.rows !== folded.cols) throw new CompileError(`expose-class-map: a ${s.rows}×${s.cols} weight follows a ${folded.cols}-value vector`);
        if (jacobian) jacobian = add("MatMul", [jacobian, constant("weight", "float32", [s.rows, s.cols], s.matrix)], "jacobian");
        else folded = { data: matmul(folded.data, classes, folded.cols, s.matrix, s.cols), cols: s.cols };
      } else if (s.kind === "scale") {
        if (jacobian) jacobian = add("Mul", [jacobian, constant("scale", "float32", [s.values.length], s.values)], "jacobian");
        else folded = { data: scaleColumns(folded.data, folded.cols, s.values), cols: folded.cols };
      } else {
        // d relu(x)/dx = [x > 0], one row per sample: [N, 1, D].
        const flat = add("Flatten", [s.input], "relu_input", { axis: attr.int(1) });
        const mask = add("Cast", [add("Greater", [flat, (zero ??= constant("zero", "float32", [], new Float32Array(1)))], "relu_on")], "relu_mask", { to: attr.int(1) });
        const rows = add("Reshape", [mask, shape("mask_shape", [0, 1, -1])], "relu_mask_rows");
        jacobian = add("Mul", [jacobian ?? constant("jacobian", "float32", [classes, folded.cols], folded.data), rows], "jacobian");
      }
    }
    if (!jacobian && folded.cols !== channels) {
      throw new CompileError(`expose-class-map: the head maps ${folded.cols} values to the logits but the pool gives ${channels}`);
    }
    // The pool's 1/L goes into J, so the contributions sum to the logit (minus biases).
    const perLocation = constant("mean", "float32", [], Float32Array.of(1 / size));
    const weights = add("Mul", [jacobian ?? constant("jacobian", "float32", [classes, channels], folded.data), perLocation], "weights");
    const columns = add("Reshape", [features, shape("features_shape", [0, channels, -1])], "features");
    const map = add("MatMul", [weights, columns], "per_location");
    const output = fresh(CLASS_MAP_OUTPUT);
    nodes.push(makeNode("Reshape", [map, shape("map_shape", [0, classes, ...grid])], [output], {}, output));

    const batch = featureShape[0];
    return {
      graph: {
        ...graph,
        nodes: [...graph.nodes, ...nodes],
        initializers: [...graph.initializers, ...initializers],
        outputs: [...graph.outputs, valueInfo(output, "float32", [batch, classes, ...grid])],
      },
      summary: `exposed %${output} [${classes} classes × ${grid.join("×")}] from the pool's input %${features} through ${chain.length} head nodes (${count(steps.filter((s) => s.kind === "relu").length, "ReLU mask")})`,
    };
  },
};

/**
 * The model and manifest without a class map: pruning and quantizing work on
 * the logits path (the map's folded weights would go stale), and
 * `npm run compile -- OUT --explain` adds it back afterwards.
 */
export function dropClassMap(model: Model, manifest: Manifest): { model: Model; manifest: Manifest; dropped?: string } {
  const dropped = manifest.output.classMap;
  if (!dropped) return { model, manifest };
  const { classMap: _, ...output } = manifest.output;
  const outputs = model.graph.outputs.filter((o) => o.name !== dropped);
  return { model: { ...model, graph: eliminateDeadNodes.run({ ...model.graph, outputs }).graph }, manifest: { ...manifest, output }, dropped };
}

/** The one input of a head node that is not a constant. */
function chainInput(node: Node, constants: ReadonlyMap<string, Tensor>): string {
  const values = node.inputs.filter((i) => i !== "" && !constants.has(i));
  if (values.length !== 1) {
    throw new CompileError(
      `expose-class-map: ${describe(node)} combines ${values.length} values (${values.map((v) => `%${v}`).join(", ")}); the head after the pool must be a single path`,
    );
  }
  return values[0];
}

/** A mean over all of a map's locations: GlobalAveragePool, ReduceMean over them, or an unpadded AveragePool whose kernel covers the map. */
function isMeanPool(node: Node, shape: readonly Dim[] | undefined, constants: ReadonlyMap<string, Tensor>): boolean {
  if (!shape) return false;
  if (isGlobalPool(node, shape.length, constants)) return true;
  if (node.op !== "AveragePool" || node.domain !== "") return false;
  const kernel = getInts(node, "kernel_shape") ?? [];
  const pads = getInts(node, "pads") ?? [];
  return kernel.length === shape.length - 2 && kernel.every((k, i) => k === shape[i + 2]) && pads.every((p) => p === 0);
}

function locations(dims: readonly Dim[], name: string): number {
  if (!dims.every((d): d is number => typeof d === "number")) {
    throw new CompileError(`expose-class-map: %${name} has symbolic spatial dims [${dims}]; the map needs fixed ones`);
  }
  return dims.reduce((a, b) => a * b, 1);
}

/** Per sample, a value of the head holds one vector: every axis after the batch but one is 1. */
function vectorLength(name: string, shape: readonly Dim[] | undefined): number {
  const rest = shape?.slice(1);
  if (!rest || !rest.every((d): d is number => typeof d === "number")) {
    throw new CompileError(`expose-class-map: %${name} has no fixed shape after the batch axis`);
  }
  if (rest.filter((d) => d !== 1).length > 1) {
    throw new CompileError(`expose-class-map: %${name} is [${shape}] after the pool; the head must keep one vector per sample`);
  }
  return rest.reduce((a, b) => a * b, 1);
}

function step(node: Node, constants: ReadonlyMap<string, Tensor>, shapes: ReadonlyMap<string, readonly Dim[] | undefined>): Step[] {
  const input = chainInput(node, constants);
  const inSize = vectorLength(input, shapes.get(input));
  const outSize = vectorLength(node.outputs[0], shapes.get(node.outputs[0]));
  const weight = (i: number) => constants.get(node.inputs[i]);
  const unsupported = (why: string) =>
    new CompileError(`expose-class-map: ${describe(node)} after the pool ${why}; supported there: ${SUPPORTED}`);
  if (node.domain !== "") throw unsupported("is not a default-domain op");
  if (REARRANGE.has(node.op) || isTrivialPool(node)) return [];
  switch (node.op) {
    case "Relu":
      return [{ kind: "relu", input }];
    case "Conv": {
      const w = weight(1);
      if (node.inputs[0] !== input || !w || w.dims.slice(2).some((k) => k !== 1) || getInt(node, "group", 1) !== 1) throw unsupported("is not a 1×1×1 conv on the map");
      return [{ kind: "linear", matrix: floats(w), rows: w.dims[0], cols: w.dims[1] }];
    }
    case "MatMul": {
      const w = weight(1);
      if (node.inputs[0] !== input || !w || w.dims.length !== 2) throw unsupported("does not multiply by a constant matrix on the right");
      return [{ kind: "linear", matrix: transpose(floats(w), w.dims[0], w.dims[1]), rows: w.dims[1], cols: w.dims[0] }];
    }
    case "Gemm": {
      const w = weight(1);
      if (node.inputs[0] !== input || !w || getInt(node, "transA", 0) !== 0) throw unsupported("is not x·B with a constant B");
      const [r, c] = w.dims;
      const m = getInt(node, "transB", 0) === 1 ? floats(w) : transpose(floats(w), r, c);
      const alpha = getFloat(node, "alpha", 1);
      return [{ kind: "linear", matrix: alpha === 1 ? m : m.map((v) => v * alpha), rows: outSize, cols: inSize }];
    }
    case "Add":
    case "Sub": {
      const bias = node.inputs.find((i) => i !== input);
      if (inSize !== outSize || (node.op === "Sub" && node.inputs[0] !== input) || !bias || !constants.has(bias)) throw unsupported("is not a bias");
      return [];
    }
    case "Mul": {
      const c = node.inputs.find((i) => i !== input);
      const t = c ? constants.get(c) : undefined;
      const values = t && floats(t);
      if (!values || inSize !== outSize || (values.length !== 1 && values.length !== inSize)) throw unsupported("is not a scale by a constant");
      return [{ kind: "scale", values: values.length === 1 ? new Float32Array(inSize).fill(values[0]) : values }];
    }
    default:
      throw unsupported("has no forward-only derivative here");
  }
}

/** A pool over a map that is already one location (X3D's output_pool). */
function isTrivialPool(node: Node): boolean {
  return ["GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool", "ReduceMean", "ReduceMax"].includes(node.op);
}

function describe(node: Node): string {
  return `${node.op} ${node.name ? `"${node.name}"` : `-> %${node.outputs[0]}`}`;
}

function floats(t: Tensor): Float32Array {
  if (t.dtype !== "float32") throw new CompileError(`expose-class-map: %${t.name} is ${t.dtype}; the head's constants must be float32`);
  return t.data as Float32Array;
}

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

/** a [n, k] · b [k, m]. */
function matmul(a: Float32Array, n: number, k: number, b: Float32Array, m: number): Float32Array {
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const v = a[i * k + j];
      if (v !== 0) for (let x = 0; x < m; x++) out[i * m + x] += v * b[j * m + x];
    }
  }
  return out;
}

function scaleColumns(a: Float32Array, cols: number, s: Float32Array): Float32Array {
  return a.map((v, i) => v * s[i % cols]);
}
