// Channel dependency groups: which channel positions of which tensors must be
// pruned together, found by walking the graph once.
//
// Every channel a node creates (a Conv's or MatMul's output channels) gets a
// fresh id. Values carry a layout: the axis their channels are on and, per
// position on it, a channel id. Ops that tie channels (residual Adds, the
// SE gate's Mul, depthwise convs, Concat along other axes) union ids; ops
// that pass channels through move the axis (Transpose, Squeeze) or repeat
// ids (Flatten before Gemm: one channel becomes a block of features).
// A unit is a class of tied ids (one prunable channel); a group is the set
// of units whose spaces are tied (a conv output with everything it is tied
// to, e.g. a whole residual stage).
//
// Exactness: "pruning" a unit must equal running the original with that
// channel's producing weights, biases, BN scale/shift and per-channel added
// constants zeroed. So each value also tracks, per position, whether the
// channel is provably zero there in that zeroed model; where a channel is
// mixed into others (a Conv's or MatMul's contraction) it must be, or its
// group is locked (e.g. a Sigmoid output feeding a Conv: sigmoid(0) = 0.5).
// Anything the walk does not understand locks the groups it touches, with
// the node and the reason, instead of guessing.
import {
  constantValue, describeNode, getInt, getInts, inferTypes, initializerMap, isDefaultDomain, OnnxError, useCounts,
  type Dim, type Graph, type Node, type Tensor, type TensorType,
} from "../ir/index.ts";

/** How a sliced tensor relates to its channels: producing ones are zeroed in the reference model. */
export type SliceRole = "produce" | "consume" | "statistic";

/** One (initializer, axis) member of the groups: index i along `axis` holds channel id ids[i]. */
export interface Slice {
  readonly tensor: string;
  readonly axis: number;
  readonly ids: Int32Array;
  readonly role: SliceRole;
  /** What it is, for importance: conv/gemm/matmul weights, BN scale, ... */
  readonly kind: "weight" | "bias" | "bn-scale" | "bn-shift" | "bn-mean" | "bn-var" | "constant" | "input-weight";
  readonly node: string;
}

/** A depthwise Conv's `group` attribute follows the number of kept input channels. */
export interface GroupAttribute {
  readonly nodeIndex: number;
  readonly ids: Int32Array;
}

/** The channels a node creates: a Conv's, Gemm's or MatMul's output channels, or a graph input's. */
export interface Space {
  readonly node: string;
  readonly value: string;
  readonly firstId: number;
  readonly size: number;
}

export interface ChannelGroup {
  readonly index: number;
  /** The spaces tied together, by producing node. */
  readonly producers: readonly string[];
  /** The values whose channels these are (conv outputs), for Taylor scores. */
  readonly spaces: readonly Space[];
  /** Prunable channels: each a list of tied channel ids. */
  readonly units: readonly (readonly number[])[];
  /** "tensor[axis]" of each member tensor. */
  readonly members: readonly string[];
  /** Why this group cannot be pruned, naming the node; undefined when it can. */
  readonly locked?: string;
}

export interface Analysis {
  readonly groups: readonly ChannelGroup[];
  readonly slices: readonly Slice[];
  readonly groupAttributes: readonly GroupAttribute[];
  /** Channel id -> [group index, unit index]. */
  readonly unitOf: (id: number) => readonly [number, number];
  /** Values whose shape changes when channels go (their value_info is dropped). */
  readonly layouts: ReadonlyMap<string, { readonly axis: number; readonly ids: Int32Array }>;
}

interface Layout {
  readonly axis: number;
  readonly rank: number;
  readonly ids: Int32Array;
  /** 1 where the channel is zero in the zeroed reference model. */
  readonly zero: Uint8Array;
}

// Elementwise ops that map a zero channel to zero, and ones that do not.
const ZERO_PRESERVING = new Set([
  "Relu", "LeakyRelu", "Identity", "Neg", "Tanh", "Erf", "Sqrt", "Abs", "Elu", "Selu", "HardSwish", "Gelu", "Dropout",
  "Softsign", "Sign", "Sin", "Floor", "Ceil", "Round",
]);
const NOT_ZERO_PRESERVING = new Set(["Sigmoid", "HardSigmoid", "Exp", "Softplus", "Cos", "Reciprocal"]);
const POOLS = new Set(["GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool"]);
const BINARY = new Set(["Add", "Sub", "Mul", "Div"]);

class UnionFind {
  readonly parent: number[] = [];
  add(): number {
    this.parent.push(this.parent.length);
    return this.parent.length - 1;
  }
  find(a: number): number {
    while (this.parent[a] !== a) a = this.parent[a] = this.parent[this.parent[a]];
    return a;
  }
  union(a: number, b: number): void {
    const [x, y] = [this.find(a), this.find(b)];
    if (x !== y) this.parent[Math.max(x, y)] = Math.min(x, y);
  }
}

/** Finds the channel groups of a graph (BN folded or not). Never throws for graphs it cannot prune: it locks them. */
export function findGroups(graph: Graph): Analysis {
  return new Walk(graph).run();
}

class Walk {
  private readonly channels = new UnionFind();
  private readonly spaceSets = new UnionFind();
  private readonly channelSpace: number[] = [];
  private readonly spaces: Space[] = [];
  private readonly layouts = new Map<string, Layout>();
  private readonly slices: Slice[] = [];
  private readonly groupAttributes: GroupAttribute[] = [];
  /** Channel id -> first reason its group is locked. */
  private readonly locks = new Map<number, string>();
  private readonly initializers: Map<string, Tensor>;
  private readonly constants = new Map<string, Tensor>();
  private readonly types: Map<string, TensorType>;
  private readonly uses: Map<string, number>;

  constructor(private readonly graph: Graph) {
    this.initializers = initializerMap(graph);
    this.uses = useCounts(graph);
    this.types = tolerantTypes(graph);
  }

  run(): Analysis {
    const initializerNames = new Set(this.graph.initializers.map((t) => t.name));
    for (const input of this.graph.inputs) {
      if (initializerNames.has(input.name)) continue;
      const shape = input.type?.shape;
      if (shape && shape.length >= 2 && typeof shape[1] === "number") {
        const layout = this.fresh(`graph input %${input.name}`, input.name, shape.length, 1, shape[1]);
        this.lockLayout(layout, `its channels come from graph input %${input.name}`);
      }
    }
    this.graph.nodes.forEach((node, index) => {
      if (node.op === "Constant" && isDefaultDomain(node)) {
        const value = constantValue(node);
        if (value) this.constants.set(value.name, value);
        return;
      }
      this.visit(node, index);
    });
    for (const output of this.graph.outputs) {
      const layout = this.layouts.get(output.name);
      if (layout) this.lockLayout(layout, `its channels reach graph output %${output.name}`);
    }
    this.checkSharedTensors();
    return this.finish();
  }

  // ---------------------------------------------------------------- helpers

  private fresh(node: string, value: string, rank: number, axis: number, size: number): Layout {
    const space = this.spaceSets.add();
    const firstId = this.channels.parent.length;
    const ids = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      ids[i] = this.channels.add();
      this.channelSpace.push(space);
    }
    this.spaces.push({ node, value, firstId, size });
    const layout = { axis, rank, ids, zero: new Uint8Array(size).fill(1) };
    this.layouts.set(value, layout);
    return layout;
  }

  private tie(a: number, b: number): void {
    this.channels.union(a, b);
    this.spaceSets.union(this.channelSpace[a], this.channelSpace[b]);
  }

  private lockLayout(layout: Layout, reason: string): void {
    for (const id of layout.ids) if (!this.locks.has(id)) this.locks.set(id, reason);
  }

  private constant(name: string): Tensor | undefined {
    return this.initializers.get(name) ?? this.constants.get(name);
  }

  private shape(name: string): readonly Dim[] | undefined {
    return this.types.get(name)?.shape;
  }

  private slice(tensor: string, axis: number, ids: Int32Array, role: SliceRole, kind: Slice["kind"], node: Node): void {
    const t = this.initializers.get(tensor);
    if (t?.dtype !== "float32") {
      for (const id of ids) if (!this.locks.has(id)) this.locks.set(id, `${tensor} (read by ${node.name || node.op}) is not a float32 initializer`);
      return;
    }
    this.slices.push({ tensor, axis, ids, role, kind, node: node.name || node.outputs[0] });
  }

  /** Locks every channel-carrying input and gives outputs fresh locked channels where their channel count is known. */
  private refuse(node: Node, index: number, why: string): void {
    const reason = `${describeNode(node, index)}: ${why}`;
    for (const input of node.inputs) {
      const layout = this.layouts.get(input);
      if (layout) this.lockLayout(layout, reason);
    }
    for (const output of node.outputs) {
      const shape = this.shape(output);
      if (!output || !shape || shape.length < 2 || typeof shape[1] !== "number") continue;
      this.lockLayout(this.fresh(node.name || output, output, shape.length, 1, shape[1]), reason);
    }
  }

  /** Requires the channels to be zero in the zeroed model where `node` mixes them into others. */
  private mixedHere(layout: Layout, node: Node, index: number): void {
    layout.ids.forEach((id, i) => {
      if (!layout.zero[i] && !this.locks.has(id)) {
        this.locks.set(id, `${describeNode(node, index)} mixes channels that are not zero when pruned (after a Sigmoid, an added constant, ...), so pruning them would not be exact`);
      }
    });
  }

  private pass(output: string, from: Layout, changes: Partial<Layout> = {}): void {
    if (output) this.layouts.set(output, { ...from, ...changes });
  }

  // ---------------------------------------------------------------- ops

  private visit(node: Node, index: number): void {
    const layouts = node.inputs.map((i) => this.layouts.get(i));
    if (!layouts.some(Boolean) && !["Conv", "Gemm", "MatMul"].includes(node.op)) return; // no channels involved
    if (!isDefaultDomain(node)) return this.refuse(node, index, `op ${node.domain}.${node.op} is not understood`);
    const x = layouts[0];
    const out = node.outputs[0];
    const op = node.op;
    const multiInput = BINARY.has(op) || ["Conv", "Gemm", "MatMul", "Concat"].includes(op);
    if (!x && !multiInput) return this.refuse(node, index, "channels in a parameter input");
    if (ZERO_PRESERVING.has(op) || NOT_ZERO_PRESERVING.has(op)) {
      if (!x || layouts.slice(1).some(Boolean)) return this.refuse(node, index, "channels in a parameter input");
      return this.pass(out, x, NOT_ZERO_PRESERVING.has(op) ? { zero: new Uint8Array(x.ids.length) } : {});
    }
    if (op === "Clip") return this.clip(node, index, x!);
    if (POOLS.has(op)) {
      if (!x || x.axis !== 1) return this.refuse(node, index, "pooling with channels off axis 1");
      return this.pass(out, x);
    }
    switch (op) {
      case "Conv": return this.conv(node, index, layouts);
      case "BatchNormalization": return this.batchNorm(node, index, x);
      case "Gemm": return this.gemm(node, index, layouts);
      case "MatMul": return this.matmul(node, index, layouts);
      case "Transpose": return this.transpose(node, x!);
      case "Flatten": return this.flatten(node, index, x!, getInt(node, "axis", 1));
      case "Reshape": return this.reshape(node, index, x!);
      case "Squeeze": case "Unsqueeze": return this.squeeze(node, index, x!);
      case "Concat": return this.concat(node, index, layouts);
      case "ReduceMean": case "ReduceMax": case "ReduceSum": return this.reduce(node, index, x!);
      case "Pad": return this.pad(node, index, x!);
      case "Softmax": case "LogSoftmax": {
        const axis = getInt(node, "axis", -1);
        if ((axis + x!.rank) % x!.rank === x!.axis) return this.refuse(node, index, "normalizes across the channels");
        return this.pass(out, x!, { zero: new Uint8Array(x!.ids.length) });
      }
      case "Shape":
        return this.refuse(node, index, "reads the shape of a channel tensor (the graph computes with the channel count)");
    }
    if (BINARY.has(op)) return this.binary(node, index, layouts);
    return this.refuse(node, index, `op ${op} is not understood by the pruner`);
  }

  private clip(node: Node, index: number, x: Layout): void {
    const bound = (i: number, fallback: number) => {
      const t = node.inputs[i] ? this.constant(node.inputs[i]) : undefined;
      if (node.inputs[i] && !t) return undefined;
      return t ? Number((t.data as Float32Array)[0]) : fallback;
    };
    const [low, high] = [bound(1, -Infinity), bound(2, Infinity)];
    if (low === undefined || high === undefined) return this.refuse(node, index, "Clip bounds are not constants");
    this.pass(node.outputs[0], x, low <= 0 && high >= 0 ? {} : { zero: new Uint8Array(x.ids.length) });
  }

  private conv(node: Node, index: number, [x, w]: (Layout | undefined)[]): void {
    const weight = this.constant(node.inputs[1]);
    if (w || !weight || weight.dims.length < 3) return this.refuse(node, index, "its weight is not a constant");
    const bias = node.inputs[2] || undefined;
    if (bias && !this.constant(bias)) return this.refuse(node, index, "its bias is not a constant");
    const group = getInt(node, "group", 1);
    const [outChannels, perGroup] = weight.dims;
    const out = node.outputs[0];
    const rank = weight.dims.length;
    if (x && x.axis !== 1) return this.refuse(node, index, "its input's channels are not on axis 1");
    const inChannels = x?.ids.length ?? perGroup * group;
    if (group === 1) {
      if (x) {
        this.mixedHere(x, node, index);
        this.slice(node.inputs[1], 1, x.ids, "consume", "input-weight", node);
      }
      const y = this.fresh(node.name || out, out, rank, 1, outChannels);
      this.slice(node.inputs[1], 0, y.ids, "produce", "weight", node);
      if (bias) this.slice(bias, 0, y.ids, "produce", "bias", node);
      return;
    }
    if (group === inChannels && perGroup === 1 && outChannels % inChannels === 0 && x) {
      // Depthwise (channel multiplier m): output j reads input floor(j / m), so they go together.
      const m = outChannels / inChannels;
      const ids = Int32Array.from({ length: outChannels }, (_, j) => x.ids[Math.floor(j / m)]);
      this.layouts.set(out, { axis: 1, rank, ids, zero: new Uint8Array(outChannels).fill(1) });
      this.slice(node.inputs[1], 0, ids, "produce", "weight", node);
      if (bias) this.slice(bias, 0, ids, "produce", "bias", node);
      this.groupAttributes.push({ nodeIndex: index, ids: x.ids });
      return;
    }
    this.refuse(node, index, `grouped Conv (group=${group}, ${inChannels} -> ${outChannels} channels) ties channels within groups; only depthwise convs are supported`);
  }

  private batchNorm(node: Node, index: number, x: Layout | undefined): void {
    if (!x || x.axis !== 1) return this.refuse(node, index, "channels off axis 1");
    const params = node.inputs.slice(1, 5);
    if (params.some((p) => !this.initializers.has(p))) return this.refuse(node, index, "its parameters are not initializers");
    const kinds = ["bn-scale", "bn-shift", "bn-mean", "bn-var"] as const;
    params.forEach((p, i) => this.slice(p, 0, x.ids, i < 2 ? "produce" : "statistic", kinds[i], node));
    // Scale and shift zeroed: the output is zero whatever comes in.
    this.pass(node.outputs[0], x, { zero: new Uint8Array(x.ids.length).fill(1) });
  }

  private gemm(node: Node, index: number, [a, b, c]: (Layout | undefined)[]): void {
    const weight = this.constant(node.inputs[1]);
    if (b || c || !weight || weight.dims.length !== 2) return this.refuse(node, index, "its B and C inputs are not constants");
    if (getInt(node, "transA", 0)) return this.refuse(node, index, "transA=1");
    const transB = getInt(node, "transB", 0);
    if (a) {
      if (a.axis !== 1) return this.refuse(node, index, "its input's features are not on axis 1");
      this.mixedHere(a, node, index);
      this.slice(node.inputs[1], transB ? 1 : 0, a.ids, "consume", "input-weight", node);
    }
    const out = node.outputs[0];
    const y = this.fresh(node.name || out, out, 2, 1, weight.dims[transB ? 0 : 1]);
    this.slice(node.inputs[1], transB ? 0 : 1, y.ids, "produce", "weight", node);
    const bias = node.inputs[2] ? this.constant(node.inputs[2]) : undefined;
    if (bias && bias.dims.at(-1) === y.ids.length && bias.dims.length <= 2 && y.ids.length > 1) {
      this.slice(node.inputs[2], bias.dims.length - 1, y.ids, "produce", "bias", node);
    } else if (bias && Array.from(bias.data as Float32Array).some((v) => v !== 0)) {
      // A broadcast bias is not zeroed with the channel: the output is not zero there.
      this.layouts.set(out, { ...y, zero: new Uint8Array(y.ids.length) });
    }
  }

  private matmul(node: Node, index: number, [a, b]: (Layout | undefined)[]): void {
    const weight = this.constant(node.inputs[1]);
    if (b || !weight || weight.dims.length !== 2) return this.refuse(node, index, "its second input is not a constant matrix");
    const out = node.outputs[0];
    if (a && a.axis !== a.rank - 1) {
      // Channels on a row axis pass through: row c of the product only reads row c.
      if (a.axis === 0 && a.rank <= 2) return this.refuse(node, index, "channels on the batch axis");
      return this.pass(out, a);
    }
    const rank = a?.rank ?? this.shape(out)?.length;
    if (rank === undefined) return this.refuse(node, index, "unknown rank");
    if (a) {
      this.mixedHere(a, node, index);
      this.slice(node.inputs[1], 0, a.ids, "consume", "input-weight", node);
    }
    const y = this.fresh(node.name || out, out, rank, rank - 1, weight.dims[1]);
    this.slice(node.inputs[1], 1, y.ids, "produce", "weight", node);
  }

  private binary(node: Node, index: number, layouts: (Layout | undefined)[]): void {
    const out = node.outputs[0];
    const rank = Math.max(...node.inputs.map((n, i) => layouts[i]?.rank ?? this.shape(n)?.length ?? 0));
    const aligned = layouts.map((l) => (l ? l.axis + rank - l.rank : undefined));
    const carriers = [0, 1].filter((i) => layouts[i]);
    if (carriers.length === 2) {
      const [p, q] = [layouts[0]!, layouts[1]!];
      if (aligned[0] !== aligned[1]) return this.refuse(node, index, "its inputs have channels on different axes");
      if (p.ids.length !== q.ids.length) {
        // One side broadcasts a single channel over the other's: keep that single channel.
        const [big, small] = p.ids.length > q.ids.length ? [p, q] : [q, p];
        if (small.ids.length !== 1) return this.refuse(node, index, "channel counts differ");
        this.lockLayout(small, `${describeNode(node, index)}: broadcasts one channel over many`);
        return this.pass(out, big, { axis: aligned[0]!, rank, zero: new Uint8Array(big.ids.length) });
      }
      p.ids.forEach((id, i) => this.tie(id, q.ids[i]));
      const zero = p.zero.map((z, i) => (node.op === "Mul" ? z | q.zero[i] : node.op === "Div" ? 0 : z & q.zero[i]));
      return this.pass(out, p, { axis: aligned[0]!, rank, zero });
    }
    const c = carriers[0];
    const x = layouts[c]!;
    const otherName = node.inputs[1 - c];
    const other = this.constant(otherName);
    if (!other) return this.refuse(node, index, `its other input %${otherName} is neither a constant nor channel-aligned`);
    if (node.op === "Div" && c === 1) return this.refuse(node, index, "divides a constant by channels");
    // The constant's axis that lines up with the channels, if it has one of size > 1.
    const axis = aligned[c]! - (rank - other.dims.length);
    const perChannel = axis >= 0 && other.dims[axis] !== 1;
    if (perChannel) {
      if (other.dims[axis] !== x.ids.length) return this.refuse(node, index, "constant does not match the channel count");
      if (!this.initializers.has(otherName)) return this.refuse(node, index, "per-channel constant is a Constant node, not an initializer");
      const additive = node.op === "Add" || node.op === "Sub";
      this.slice(otherName, axis, x.ids, additive ? "produce" : "consume", "constant", node);
    }
    const additive = node.op === "Add" || node.op === "Sub";
    const zeroConst = (other.data as ArrayLike<number>).length > 0 && Array.from(other.data as ArrayLike<number>).every((v) => Number(v) === 0);
    // x + k stays zero where k is zeroed with the channel (per-channel) or is zero; x * k and x / k always do.
    const zero = additive && !perChannel && !zeroConst ? new Uint8Array(x.ids.length) : x.zero;
    this.pass(out, x, { axis: aligned[c]!, rank, zero });
  }

  private transpose(node: Node, x: Layout): void {
    const perm = getInts(node, "perm") ?? Array.from({ length: x.rank }, (_, i) => x.rank - 1 - i);
    this.pass(node.outputs[0], x, { axis: perm.indexOf(x.axis) });
  }

  private flatten(node: Node, index: number, x: Layout, axisAttr: number): void {
    const axis = axisAttr < 0 ? axisAttr + x.rank : axisAttr;
    if (x.axis < axis) return this.refuse(node, index, "flattens the channels into the leading axis");
    const shape = this.shape(node.inputs[0]);
    const inner = shape?.slice(x.axis + 1);
    const outer = shape?.slice(axis, x.axis);
    if (!inner || !outer || ![...inner, ...outer].every((d) => typeof d === "number")) {
      return this.refuse(node, index, "flattens channels together with axes of unknown size");
    }
    // Feature f of the output is channel floor(f / inner) % C: each channel becomes a strided block.
    const innerSize = (inner as number[]).reduce((p, d) => p * d, 1);
    const outerSize = (outer as number[]).reduce((p, d) => p * d, 1);
    const c = x.ids.length;
    const length = outerSize * c * innerSize;
    const ids = new Int32Array(length);
    const zero = new Uint8Array(length);
    for (let f = 0; f < length; f++) {
      const ch = Math.floor(f / innerSize) % c;
      ids[f] = x.ids[ch];
      zero[f] = x.zero[ch];
    }
    this.layouts.set(node.outputs[0], { axis, rank: axis + 1, ids, zero });
  }

  private reshape(node: Node, index: number, x: Layout): void {
    // Only a flatten of everything after the batch axis, written [0|-1|N, -1]: the channel count is not in the shape.
    const target = this.constant(node.inputs[1]);
    const dims = target ? Array.from(target.data as BigInt64Array, Number) : undefined;
    if (!dims || dims.length !== 2 || dims[1] !== -1 || (dims[0] !== 0 && dims[0] !== -1 && dims[0] !== this.shape(node.inputs[0])?.[0])) {
      return this.refuse(node, index, "Reshape other than a flatten to [batch, -1] (the target shape would name the channel count)");
    }
    this.flatten(node, index, x, 1);
  }

  private squeeze(node: Node, index: number, x: Layout): void {
    const fromInput = node.inputs[1] ? this.constant(node.inputs[1]) : undefined;
    if (node.inputs[1] && !fromInput) return this.refuse(node, index, "axes are not constant");
    const axes = getInts(node, "axes") ?? (fromInput ? Array.from(fromInput.data as BigInt64Array, Number) : undefined);
    if (!axes) return this.refuse(node, index, "Squeeze without axes");
    if (node.op === "Squeeze") {
      const norm = axes.map((a) => (a + x.rank) % x.rank);
      if (norm.includes(x.axis)) return this.refuse(node, index, "squeezes the channel axis");
      return this.pass(node.outputs[0], x, { axis: x.axis - norm.filter((a) => a < x.axis).length, rank: x.rank - axes.length });
    }
    const rank = x.rank + axes.length;
    let axis = x.axis;
    for (const a of axes.map((a) => (a + rank) % rank).sort((p, q) => p - q)) if (a <= axis) axis++;
    this.pass(node.outputs[0], x, { axis, rank });
  }

  private concat(node: Node, index: number, layouts: (Layout | undefined)[]): void {
    if (layouts.some((l) => !l)) return this.refuse(node, index, "concatenates channels with values that carry none");
    const ls = layouts as Layout[];
    const axis = (getInt(node, "axis", 0) + ls[0].rank) % ls[0].rank;
    if (ls.some((l) => l.axis !== ls[0].axis)) return this.refuse(node, index, "inputs have channels on different axes");
    if (axis === ls[0].axis) {
      // Along the channels: the output's channels are the inputs' in order (offsets follow).
      const ids = Int32Array.from(ls.flatMap((l) => [...l.ids]));
      const zero = Uint8Array.from(ls.flatMap((l) => [...l.zero]));
      return this.pass(node.outputs[0], ls[0], { ids, zero });
    }
    if (ls.some((l) => l.ids.length !== ls[0].ids.length)) return this.refuse(node, index, "channel counts differ");
    for (const l of ls.slice(1)) l.ids.forEach((id, i) => this.tie(ls[0].ids[i], id));
    const zero = ls[0].zero.map((_, i) => (ls.every((l) => l.zero[i]) ? 1 : 0));
    this.pass(node.outputs[0], ls[0], { zero });
  }

  private reduce(node: Node, index: number, x: Layout): void {
    const fromInput = node.inputs[1] ? this.constant(node.inputs[1]) : undefined;
    if (node.inputs[1] && !fromInput) return this.refuse(node, index, "axes are not constant");
    const axes = (getInts(node, "axes") ?? (fromInput ? Array.from(fromInput.data as BigInt64Array, Number) : []))
      .map((a) => (a + x.rank) % x.rank);
    if (axes.length === 0 || axes.includes(x.axis)) return this.refuse(node, index, "reduces across the channels");
    const keep = getInt(node, "keepdims", 1) === 1;
    const axis = keep ? x.axis : x.axis - axes.filter((a) => a < x.axis).length;
    this.pass(node.outputs[0], x, { axis, rank: keep ? x.rank : x.rank - axes.length });
  }

  private pad(node: Node, index: number, x: Layout): void {
    const pads = node.inputs[1] ? this.constant(node.inputs[1]) : undefined;
    const value = node.inputs[2] ? this.constant(node.inputs[2]) : undefined;
    if (!pads || node.inputs[3] || (node.inputs[2] && !value)) return this.refuse(node, index, "pads are not constants");
    const p = Array.from(pads.data as BigInt64Array, Number);
    if (p[x.axis] !== 0 || p[x.axis + x.rank] !== 0) return this.refuse(node, index, "pads the channel axis");
    const fill = value ? Number((value.data as Float32Array)[0]) : 0;
    const mode = node.attributes.mode?.type === "string" ? node.attributes.mode.value : "constant";
    this.pass(node.outputs[0], x, mode === "constant" && fill !== 0 ? { zero: new Uint8Array(x.ids.length) } : {});
  }

  // ---------------------------------------------------------------- results

  /** A tensor sliced by several nodes, or also read where no slice says how: lock its groups. */
  private checkSharedTensors(): void {
    const byTensor = new Map<string, Slice[]>();
    for (const s of this.slices) byTensor.set(s.tensor, [...(byTensor.get(s.tensor) ?? []), s]);
    for (const [tensor, slices] of byTensor) {
      const nodes = new Set(slices.map((s) => s.node));
      const uses = this.uses.get(tensor) ?? 0;
      if (nodes.size > 1 || uses > 1) {
        for (const s of slices) {
          for (const id of s.ids) if (!this.locks.has(id)) this.locks.set(id, `initializer ${tensor} is read by ${uses} nodes; pruning it for one would change the others`);
        }
      }
    }
  }

  private finish(): Analysis {
    const rootOfSpace = this.spaces.map((_, i) => this.spaceSets.find(i));
    const groupIndex = new Map<number, number>();
    const groupSpaces: Space[][] = [];
    rootOfSpace.forEach((root, i) => {
      if (!groupIndex.has(root)) {
        groupIndex.set(root, groupSpaces.length);
        groupSpaces.push([]);
      }
      groupSpaces[groupIndex.get(root)!].push(this.spaces[i]);
    });
    const unitOfRoot = new Map<number, [number, number]>();
    const units: number[][][] = groupSpaces.map(() => []);
    for (let id = 0; id < this.channels.parent.length; id++) {
      const root = this.channels.find(id);
      let at = unitOfRoot.get(root);
      if (!at) {
        const g = groupIndex.get(rootOfSpace[this.channelSpace[id]])!;
        at = [g, units[g].length];
        units[g].push([]);
        unitOfRoot.set(root, at);
      }
      units[at[0]][at[1]].push(id);
    }
    const unitOf = (id: number) => unitOfRoot.get(this.channels.find(id))!;
    const members = groupSpaces.map(() => new Set<string>());
    for (const s of this.slices) for (const id of new Set(s.ids)) members[unitOf(id)[0]].add(`${s.tensor}[${s.axis}]`);
    const lockOf = new Map<number, string>();
    for (const [id, reason] of this.locks) {
      const g = unitOf(id)[0];
      if (!lockOf.has(g)) lockOf.set(g, reason);
    }
    const groups: ChannelGroup[] = groupSpaces.map((spaces, g) => ({
      index: g,
      producers: spaces.map((s) => s.node),
      spaces,
      units: units[g],
      members: [...members[g]],
      ...(lockOf.has(g) && { locked: lockOf.get(g) }),
    }));
    return {
      groups,
      slices: this.slices,
      groupAttributes: this.groupAttributes,
      unitOf,
      layouts: new Map([...this.layouts].map(([k, v]) => [k, { axis: v.axis, ids: v.ids }])),
    };
  }
}

/** Value types from shape inference where it knows the ops, else what the graph declares. */
export function tolerantTypes(graph: Graph): Map<string, TensorType> {
  try {
    return inferTypes(graph);
  } catch (e) {
    if (!(e instanceof OnnxError)) throw e;
    const types = new Map<string, TensorType>();
    for (const t of graph.initializers) types.set(t.name, { dtype: t.dtype, shape: [...t.dims] });
    for (const v of [...graph.inputs, ...graph.valueInfo, ...graph.outputs]) if (v.type) types.set(v.name, v.type);
    return types;
  }
}
