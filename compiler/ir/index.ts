// The IR's public surface: load, save, validate, print, infer shapes, build
// and query models. Code outside compiler/ir/ imports from here.
export type * from "./types.ts";
export { IrProblem, OnnxError } from "./errors.ts";
export { elementCount } from "./dtype.ts";
export { decodeModel, loadModel } from "./load.ts";
export { encodeModel, encodeModelProto, saveModel, toModelProto } from "./save.ts";
export { decodeTensor } from "./tensor.ts";
export { IR_VERSIONS, OPSETS, validateModel } from "./validate.ts";
export { formatType, printGraph } from "./printer.ts";
export { inferShapes, inferTypes } from "./shapes.ts";
export { graphCost, nodeMacs, type ActivationMemory, type GraphCost, type NodeCost } from "./cost.ts";
export { GraphBuilder, attr, makeModel, makeNode, makeTensor, valueInfo } from "./build.ts";
export * from "./graph.ts";
export { findSqueezeExcite, findSwish, isGlobalPool, type SqueezeExcite, type Swish } from "./patterns.ts";
