// Errors a person can act on: which file (or graph), which node or tensor, what is wrong.

/** A problem with an ONNX model: `source` is the file (or graph) it came from. */
export class OnnxError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 5).join("; ");
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
    super(`${source}: ${shown}${more}`);
    this.name = "OnnxError";
  }
}

/**
 * A problem found deep inside the IR code (an attribute of the wrong type, a
 * shape that does not fit), which does not know the file or node it is in.
 * The code that walks the graph catches it and rethrows it as an OnnxError
 * with that context.
 */
export class IrProblem extends Error {
  override name = "IrProblem";
}
