// The IR's public surface: load/save, validate, inspect and build models.
export type * from "./types.ts";
export { OnnxError } from "./errors.ts";
export { dtypeFromCode, elementCount } from "./dtype.ts";
export { decodeModel, loadModel } from "./load.ts";
export { encodeModel, encodeModelProto, saveModel, toModelProto } from "./save.ts";
export { decodeTensor } from "./tensor.ts";
export { IR_VERSIONS, OPSETS, modelProblems, validateModel } from "./validate.ts";
export { printGraph, formatType } from "./printer.ts";
export { inferShapes, inferTypes } from "./shapes.ts";
export { GraphBuilder, attr, makeModel, makeNode, makeTensor, valueInfo } from "./build.ts";
export * from "./graph.ts";
