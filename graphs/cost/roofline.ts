/**
 * Roofline cost model with device sharing.
 *
 * An operator alone: launch overhead + max(FLOPs / (peak × u), bytes / (bandwidth × u_mem)), where
 * u is the fraction of the device's parallel units the op can fill (its output elements over the
 * units' thread capacity, capped by `unitsPerOp`) — small ops leave most of a GPU idle, which is
 * exactly why running groups concurrently pays (IOS, Nimble).
 *
 * A stage of concurrent groups: each group is a chain, so the stage takes at least its longest
 * chain; the groups share the device, so it also takes at least the total "device area"
 * Σ t_op × u_op (a full device for that long); and launches issued by one host thread serialize,
 * so at least n_ops × launch. The stage latency is the largest of the three plus a stream
 * synchronisation cost when it has more than one group.
 *
 * A merge stage prices the fused convolution: summed FLOPs and output, the shared input read once.
 */
import { dtypeBytes, type Graph, type Node, numel } from '../ir.js';
import type { Stage } from '../schedule.js';
import { type CostModel, nodeMap, stageNodes, tensorInfo } from './model.js';

export interface DeviceSpec {
  name: string;
  kind: 'cpu' | 'gpu';
  /** Achievable fp32 FLOP/s of the whole device on large ops. */
  peakFlops: number;
  /** Achievable memory bandwidth, bytes/s. */
  memBandwidth: number;
  /** Per-op launch/dispatch overhead, ms. */
  launchMs: number;
  /** Cost of synchronising the streams of a multi-group stage, ms. */
  syncMs: number;
  /** Parallel units: SMs on a GPU, cores on a CPU. */
  units: number;
  /** Output elements one unit needs in flight to be busy (threads per SM on a GPU). */
  elemsPerUnit: number;
  /** Most units one op may use (1 on a CPU whose ops run single-threaded on their stream); a stage's
   *  `threads` (a hybrid schedule) gives its groups' ops that many instead. */
  unitsPerOp: number;
  /** Extra cost of an op run with more than one thread (forking the thread team), ms. Default 0. */
  forkMs?: number;
  /** Bytes of device memory. */
  memoryBytes: number;
}

const G = 1e9;
const T = 1e12;
const GiB = 1024 ** 3;

/**
 * Presets: datasheet peaks scaled by a typical achievable fraction (0.7 compute, 0.8 bandwidth on
 * GPUs). The CPU preset is this project's 2-core CI machine (AVX2) with single-threaded ops per
 * stream: the oneDNN executor runs Inception-v3 (11.4 GFLOP) sequentially on one thread in 131–156 ms
 * across runs (73–87 GFLOP/s; docs/results/executor.md); 70 GFLOP/s per core is the conservative end.
 * For other machines use a profiled table.
 */
export const DEVICE_PRESETS: Record<string, DeviceSpec> = {
  'cpu-2core': {
    name: 'cpu-2core',
    kind: 'cpu',
    peakFlops: 2 * 70 * G,
    memBandwidth: 12 * G,
    launchMs: 0.002,
    syncMs: 0.005,
    units: 2,
    elemsPerUnit: 64,
    unitsPerOp: 1,
    forkMs: 0.01,
    memoryBytes: 24 * GiB,
  },
  v100: {
    name: 'v100',
    kind: 'gpu',
    peakFlops: 0.7 * 15.7 * T,
    memBandwidth: 0.8 * 900 * G,
    launchMs: 0.005,
    syncMs: 0.004,
    units: 80,
    elemsPerUnit: 2048,
    unitsPerOp: 80,
    memoryBytes: 16 * GiB,
  },
  a100: {
    name: 'a100',
    kind: 'gpu',
    peakFlops: 0.7 * 19.5 * T,
    memBandwidth: 0.8 * 1555 * G,
    launchMs: 0.004,
    syncMs: 0.004,
    units: 108,
    elemsPerUnit: 2048,
    unitsPerOp: 108,
    memoryBytes: 40 * GiB,
  },
  h100: {
    name: 'h100',
    kind: 'gpu',
    peakFlops: 0.7 * 67 * T,
    memBandwidth: 0.8 * 3350 * G,
    launchMs: 0.003,
    syncMs: 0.003,
    units: 132,
    elemsPerUnit: 2048,
    unitsPerOp: 132,
    memoryBytes: 80 * GiB,
  },
  'jetson-xavier': {
    name: 'jetson-xavier',
    kind: 'gpu',
    peakFlops: 0.7 * 1.41 * T,
    memBandwidth: 0.8 * 137 * G,
    launchMs: 0.01,
    syncMs: 0.008,
    units: 8,
    elemsPerUnit: 2048,
    unitsPerOp: 8,
    memoryBytes: 32 * GiB,
  },
};

export function devicePreset(name: string): DeviceSpec {
  const d = DEVICE_PRESETS[name];
  if (!d) throw new Error(`unknown device preset '${name}' (known: ${Object.keys(DEVICE_PRESETS).join(', ')})`);
  return d;
}

interface OpCost {
  /** Alone-on-device latency, ms. */
  ms: number;
  /** Fraction of the device it occupies while running. */
  share: number;
}

export class RooflineCostModel implements CostModel {
  readonly name: string;
  private readonly cache = new WeakMap<Node, OpCost>();
  private readonly threaded = new Map<number, WeakMap<Node, OpCost>>();

  constructor(readonly device: DeviceSpec) {
    this.name = `roofline:${device.name}`;
  }

  private price(flops: number, bytes: number, outElems: number, maxUnits = this.device.unitsPerOp): OpCost {
    const d = this.device;
    const units = Math.min(maxUnits, d.units, Math.max(1, outElems / d.elemsPerUnit));
    const share = units / d.units;
    // Memory streams saturate with fewer threads than the ALUs do.
    const memShare = Math.min(1, 4 * share);
    const compute = flops / (d.peakFlops * share);
    const memory = bytes / (d.memBandwidth * memShare);
    const fork = maxUnits > 1 && d.kind === 'cpu' ? (d.forkMs ?? 0) : 0;
    return { ms: d.launchMs + fork + 1e3 * Math.max(compute, memory), share };
  }

  /** An op's cost alone; `threads` (a hybrid stage's count for its group) overrides unitsPerOp. */
  private op(node: Node, threads?: number): OpCost {
    const cache = threads === undefined ? this.cache : (this.threaded.get(threads) ?? this.threaded.set(threads, new WeakMap()).get(threads));
    let c = cache?.get(node);
    if (!c) {
      const out = node.outShapes.reduce((s, sh) => s + numel(sh), 0);
      c = this.price(node.flops, node.bytes, out, threads ?? this.device.unitsPerOp);
      cache?.set(node, c);
    }
    return c;
  }

  opLatency(_graph: Graph, node: Node): number {
    return this.op(node).ms;
  }

  stageLatency(graph: Graph, stage: Stage): number {
    const groups = stageNodes(graph, stage, nodeMap(graph));
    if (stage.kind === 'merge') return this.mergedConv(graph, groups.flat(), stage.threads?.[0]).ms;
    let longest = 0;
    let area = 0;
    let ops = 0;
    for (const [gi, g] of groups.entries()) {
      let chain = 0;
      for (const n of g) {
        const c = this.op(n, stage.threads?.[gi]);
        chain += c.ms;
        area += (c.ms - this.device.launchMs) * c.share;
        ops++;
      }
      longest = Math.max(longest, chain);
    }
    const sync = groups.length > 1 ? this.device.syncMs : 0;
    return Math.max(longest, area + this.device.launchMs, ops * this.device.launchMs) + sync;
  }

  private mergedConv(graph: Graph, convs: Node[], threads?: number): OpCost {
    const tensors = tensorInfo(graph);
    let flops = 0;
    let out = 0;
    let bytes = 0;
    for (const n of convs) {
      flops += n.flops;
      out += numel(n.outShapes[0]);
      // Everything but the shared input: weights, bias, output.
      for (const t of n.inputs.slice(1)) {
        const v = tensors.get(t);
        if (v) bytes += numel(v.shape) * dtypeBytes(v.dtype);
      }
      bytes += numel(n.outShapes[0]) * 4;
    }
    const input = tensors.get(convs[0].inputs[0]);
    if (input) bytes += numel(input.shape) * dtypeBytes(input.dtype);
    return this.price(flops, bytes, out, threads ?? this.device.unitsPerOp);
  }
}
