/**
 * Compiles (model, schedule, batch, micro-batching) into the flat arrays the simulator's hot path
 * reads, and accounts the task's activation memory.
 *
 * A compiled plan is a sequence of *phases* separated by barriers. A phase is one schedule stage
 * (or one micro-batch round of it): its groups run concurrently, one stream each, and every group
 * is a chain of ops run back to back on its stream. Per op the plan stores its alone-on-device
 * latency (the CostModel's `opLatency` at that batch) and its device share (the fraction of the
 * device's parallel units it fills — see `opShare`), which the contention model needs. A merge
 * stage becomes one op priced by the CostModel's `stageLatency` (the fused convolution).
 * A phase with more than one group ends with the device's stream-synchronisation cost; in a
 * one-group phase, whatever the cost model charges for the stage beyond its op chain is added to
 * the chain's last op.
 *
 * Per-layer batch sizes (micro-batching): with `micro = m > 1`, every stage whose intermediate
 * tensors (produced and consumed inside the stage) reach `splitMinBytes` runs as up to m rounds of
 * ⌈b/m⌉ or ⌊b/m⌋ samples. The rounds run one after another, so the stage costs more launches and
 * loses batch efficiency, but only one round's intermediates are live at a time.
 *
 * Activation memory of a task (the "sum of live activation bytes" fallback when no planner arena
 * is given): stage k holds every tensor alive across it — produced at or before k and read at or
 * after k, graph inputs from stage 0 and graph outputs to the end — plus its own intermediates,
 * divided among rounds when split. The task needs the largest stage's bytes.
 */

import type { CostModel } from '../../graphs/cost/model.js';
import type { DeviceSpec } from '../../graphs/cost/roofline.js';
import { dtypeBytes, type Graph, GraphError, type Node, numel } from '../../graphs/ir.js';
import type { Schedule } from '../../graphs/schedule.js';

/** Fraction of the device an op fills: its output elements over the units' thread capacity (roofline's rule). */
export function opShare(outElems: number, device: DeviceSpec): number {
  const units = Math.min(device.unitsPerOp, Math.max(1, outElems / device.elemsPerUnit));
  return units / device.units;
}

function outElems(node: Node): number {
  let s = 0;
  for (const sh of node.outShapes) s += numel(sh);
  return s;
}

export interface StageMemory {
  /** Bytes alive across each stage (inputs, outputs, pass-through), at the full batch. */
  live: Float64Array;
  /** Bytes produced and consumed inside each stage, at the full batch. */
  internal: Float64Array;
}

/** Per-stage live and intermediate activation bytes of `schedule` over `graph` (at graph.batch). */
export function stageMemory(graph: Graph, schedule: Schedule): StageMemory {
  const K = schedule.stages.length;
  const stageOf = new Map<string, number>();
  schedule.stages.forEach((st, k) => {
    for (const g of st.groups) for (const id of g) stageOf.set(id, k);
  });
  const produced = new Map<string, number>();
  const bytes = new Map<string, number>();
  const lastUse = new Map<string, number>();
  for (const v of graph.inputs) {
    produced.set(v.name, 0);
    bytes.set(v.name, numel(v.shape) * dtypeBytes(v.dtype));
  }
  for (const n of graph.nodes) {
    const k = stageOf.get(n.id);
    if (k === undefined) throw new GraphError(`node is in no stage of the schedule`, `node '${n.id}'`);
    n.outputs.forEach((t, i) => {
      produced.set(t, k);
      bytes.set(t, numel(n.outShapes[i]) * dtypeBytes(n.outDtypes[i] ?? 'float32'));
    });
    for (const t of n.inputs) if (bytes.has(t) || produced.has(t)) lastUse.set(t, Math.max(lastUse.get(t) ?? 0, k));
  }
  for (const o of graph.outputs) lastUse.set(o.name, K - 1);
  const live = new Float64Array(K);
  const internal = new Float64Array(K);
  for (const [t, p] of produced) {
    const b = bytes.get(t) ?? 0;
    const c = lastUse.get(t) ?? p;
    const isOutput = graph.outputs.some((o) => o.name === t);
    if (c === p && !isOutput && !graph.inputs.some((v) => v.name === t)) internal[p] += b;
    else for (let k = p; k <= c; k++) live[k] += b;
  }
  return { live, internal };
}

export interface PlanRequest {
  /** Returns the model's graph at a batch size (cached by the caller). */
  graphAt(batch: number): Graph;
  schedule: Schedule;
  batch: number;
  /** Micro-batches per split stage (1: no splitting). */
  micro: number;
  /** Only stages with at least this many intermediate bytes are split. */
  splitMinBytes: number;
  cost: CostModel;
  device: DeviceSpec;
  /** Planned activation arena at micro = 1 (the memory planner's), bytes; replaces the live-bytes estimate. */
  plannedBytes?: number;
  /** Per-launch cost of the real executor, ms, charged to the first op (its home stream). Default 0. */
  launchOverheadMs?: number;
}

export interface PlanInfo {
  id: number;
  batch: number;
  micro: number;
  phases: number;
  ops: number;
  activationBytes: number;
  inputBytes: number;
  outputBytes: number;
  /** Latency of the plan alone on an idle device as the cost model prices its stages, ms. */
  aloneMs: number;
}

function grow64(a: Float64Array<ArrayBuffer>, need: number): Float64Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}
function grow32(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * All compiled plans of one simulator, concatenated into flat typed arrays so the hot path indexes
 * numbers and never dereferences plan objects. Index ranges are half-open [start, end).
 */
export class PlanStore {
  opMs = new Float64Array(256);
  opShare = new Float64Array(256);
  groupOpStart = new Int32Array(64);
  groupOpEnd = new Int32Array(64);
  /** Phase each group belongs to. */
  groupPhase = new Int32Array(64);
  /** Alone latency of each group's chain, ms (the in-order dispatcher's pending-work estimate). */
  groupMs = new Float64Array(64);
  phaseGroupStart = new Int32Array(32);
  phaseGroupEnd = new Int32Array(32);
  phaseSyncMs = new Float64Array(32);
  planPhaseStart = new Int32Array(8);
  planPhaseEnd = new Int32Array(8);
  planActBytes = new Float64Array(8);
  planInBytes = new Float64Array(8);
  planOutBytes = new Float64Array(8);
  readonly info: PlanInfo[] = [];
  private nOps = 0;
  private nGroups = 0;
  private nPhases = 0;

  private addOp(ms: number, share: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new GraphError(`cost model returned latency ${ms} ms`);
    this.opMs = grow64(this.opMs, this.nOps + 1);
    this.opShare = grow64(this.opShare, this.nOps + 1);
    this.opMs[this.nOps] = ms;
    this.opShare[this.nOps] = share;
    this.nOps++;
  }

  private openGroup(): number {
    this.groupOpStart = grow32(this.groupOpStart, this.nGroups + 1);
    this.groupOpEnd = grow32(this.groupOpEnd, this.nGroups + 1);
    this.groupPhase = grow32(this.groupPhase, this.nGroups + 1);
    this.groupMs = grow64(this.groupMs, this.nGroups + 1);
    this.groupOpStart[this.nGroups] = this.nOps;
    this.groupPhase[this.nGroups] = this.nPhases - 1;
    return this.nGroups++;
  }

  /** Closes the group opened last: its op range and chain latency. */
  private closeGroup(): void {
    const g = this.nGroups - 1;
    this.groupOpEnd[g] = this.nOps;
    let ms = 0;
    for (let o = this.groupOpStart[g]; o < this.nOps; o++) ms += this.opMs[o];
    this.groupMs[g] = ms;
  }

  private openPhase(): number {
    this.phaseGroupStart = grow32(this.phaseGroupStart, this.nPhases + 1);
    this.phaseGroupEnd = grow32(this.phaseGroupEnd, this.nPhases + 1);
    this.phaseSyncMs = grow64(this.phaseSyncMs, this.nPhases + 1);
    this.phaseGroupStart[this.nPhases] = this.nGroups;
    return this.nPhases++;
  }

  /** Compiles and appends a plan; returns its description (id = index into the plan arrays). */
  add(req: PlanRequest): PlanInfo {
    const { schedule, batch, device, cost } = req;
    if (!Number.isInteger(batch) || batch < 1) throw new GraphError(`batch must be a positive integer, got ${batch}`, `plan for '${schedule.model}'`);
    if (!Number.isInteger(req.micro) || req.micro < 1)
      throw new GraphError(`micro-batch count must be a positive integer, got ${req.micro}`, `plan for '${schedule.model}'`);
    const full = req.graphAt(batch);
    const byId = new Map(full.nodes.map((n) => [n.id, n]));
    const mem = stageMemory(full, schedule);
    const m = Math.min(req.micro, batch);
    const q = Math.floor(batch / m);
    const r = batch % m;
    // Round sizes of a split stage: r rounds of q+1 then m-r rounds of q.
    const rounds: number[] = [];
    for (let i = 0; i < m; i++) rounds.push(i < r ? q + 1 : q);
    const id = this.info.length;
    const phaseStart = this.nPhases;
    let aloneMs = 0;
    let peak = 0;
    schedule.stages.forEach((stage, k) => {
      const split = m > 1 && mem.internal[k] > 0 && mem.internal[k] >= req.splitMinBytes;
      const sizes = split ? rounds : [batch];
      peak = Math.max(peak, mem.live[k] + (mem.internal[k] * sizes[0]) / batch);
      for (const size of sizes) {
        const g = req.graphAt(size);
        const nodes = size === batch ? byId : new Map(g.nodes.map((n) => [n.id, n]));
        const ph = this.openPhase();
        let longest = 0;
        if (stage.kind === 'merge') {
          this.openGroup();
          const convs = stage.groups.flat().map((nid) => nodes.get(nid) as Node);
          const ms = cost.stageLatency(g, stage);
          this.addOp(
            ms,
            opShare(
              convs.reduce((s, n) => s + outElems(n), 0),
              device,
            ),
          );
          this.closeGroup();
          longest = ms;
        } else {
          for (const group of stage.groups) {
            this.openGroup();
            let chain = 0;
            for (const nid of group) {
              const n = nodes.get(nid);
              if (!n) throw new GraphError(`schedule names '${nid}', not a node of '${g.name}'`, `plan for '${schedule.model}' stage ${k}`);
              const ms = cost.opLatency(g, n);
              chain += ms;
              this.addOp(ms, opShare(outElems(n), device));
            }
            this.closeGroup();
            longest = Math.max(longest, chain);
          }
        }
        this.phaseGroupEnd[ph] = this.nGroups;
        const priced = stage.kind === 'merge' ? longest : cost.stageLatency(g, stage);
        // A multi-group stage ends with the device's stream sync. A one-group stage has no
        // concurrency, so whatever the cost model charges beyond its chain is per-stage overhead
        // (launch, sync) on that stream: a task alone then takes exactly the cost model's
        // latency for such stages.
        const groups = this.nGroups - this.phaseGroupStart[ph];
        const sync = groups > 1 ? device.syncMs : 0;
        if (groups === 1 && priced > longest) {
          // Launch overhead occupies the stream: fold it into the chain's last op.
          this.opMs[this.nOps - 1] += priced - longest;
          this.groupMs[this.nGroups - 1] += priced - longest;
          longest = priced;
        }
        this.phaseSyncMs[ph] = sync;
        aloneMs += Math.max(longest + sync, priced);
      }
    });
    const overhead = req.launchOverheadMs ?? 0;
    if (!(overhead >= 0) || !Number.isFinite(overhead))
      throw new GraphError(`launch overhead must be a finite number ≥ 0 ms, got ${overhead}`, `plan for '${schedule.model}'`);
    if (overhead > 0) {
      const g0 = this.phaseGroupStart[phaseStart];
      this.opMs[this.groupOpStart[g0]] += overhead;
      this.groupMs[g0] += overhead;
      aloneMs += overhead;
    }
    const planned = req.plannedBytes !== undefined && req.plannedBytes > 0 ? req.plannedBytes : undefined;
    // A planner arena replaces the estimate at m = 1; splitting scales it by the estimate's ratio.
    let activationBytes = peak;
    if (planned !== undefined) {
      let whole = 0;
      for (let k = 0; k < mem.live.length; k++) whole = Math.max(whole, mem.live[k] + mem.internal[k]);
      activationBytes = whole > 0 ? (planned * peak) / whole : planned;
    }
    let inputBytes = 0;
    for (const v of full.inputs) inputBytes += numel(v.shape) * dtypeBytes(v.dtype);
    let outputBytes = 0;
    for (const v of full.outputs) outputBytes += numel(v.shape) * dtypeBytes(v.dtype);
    this.planPhaseStart = grow32(this.planPhaseStart, id + 1);
    this.planPhaseEnd = grow32(this.planPhaseEnd, id + 1);
    this.planActBytes = grow64(this.planActBytes, id + 1);
    this.planInBytes = grow64(this.planInBytes, id + 1);
    this.planOutBytes = grow64(this.planOutBytes, id + 1);
    this.planPhaseStart[id] = phaseStart;
    this.planPhaseEnd[id] = this.nPhases;
    this.planActBytes[id] = activationBytes;
    this.planInBytes[id] = inputBytes;
    this.planOutBytes[id] = outputBytes;
    const info: PlanInfo = { id, batch, micro: m, phases: this.nPhases - phaseStart, ops: 0, activationBytes, inputBytes, outputBytes, aloneMs };
    info.ops = this.nOps - this.groupOpStart[this.phaseGroupStart[phaseStart]];
    this.info.push(info);
    return info;
  }
}
