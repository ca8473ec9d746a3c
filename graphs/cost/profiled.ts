/**
 * ProfiledCostModel: costs from tables the native profiler measured on a real device
 * (native/profile.ts writes them), with a fallback for what the tables lack.
 *
 *  - opLatency: the measured median when the profile covers (graph name, batch, node id); else the
 *    fallback model's estimate, and the node is recorded in `fallbacks` so callers can say so.
 *  - stageLatency, parallel: each group is a chain (sum of its ops); with several groups, each chain
 *    is stretched by a co-run slowdown factor — the measured slowdown of the pair (one op of each
 *    group) when the profile has one, else the mean of all measured pair slowdowns, else the
 *    fallback's own ratio of stage latency to longest chain — and the stage takes the longest
 *    stretched chain plus `syncMs` (measured: the median excess of profiled multi-group stages over
 *    this formula; 0 without such stages).
 *  - stageLatency, merge: the measured stage if the profile holds this exact stage, else the sum of
 *    the convs' measured latencies scaled by the fallback's merged / sequential ratio.
 *  - A whole stage measured by the profiler (same kind and groups) is returned as measured.
 */
import type { Graph, Node } from '../ir.js';
import type { Stage } from '../schedule.js';
import { type CostModel, nodeMap, stageNodes } from './model.js';

/** The profile JSON (format 'topsched.profile/1'), one per (device, model, batch). */
export interface ProfileDocument {
  format: 'topsched.profile/1';
  device: { name: string; cpuModel: string; threads: number; backend: string; opThreads: number; streams: number; dnnl?: string };
  model: string;
  batch: number;
  settings: Record<string, number>;
  /** Node id → median ms alone on one stream. */
  ops: Record<string, number>;
  opStats?: Record<string, { meanMs: number; medianMs: number; minMs: number; stdMs: number }>;
  stages: { kind: string; groups: string[][]; ms: number }[];
  pairs: { a: string; b: string; aloneMs: [number, number]; corunMs: [number, number]; slowdown: [number, number] }[];
}

export function isProfileDocument(x: unknown): x is ProfileDocument {
  const d = x as ProfileDocument;
  return !!d && d.format === 'topsched.profile/1' && typeof d.model === 'string' && typeof d.ops === 'object' && Array.isArray(d.pairs);
}

const stageKey = (s: { kind: string; groups: string[][] }) => `${s.kind}|${s.groups.map((g) => g.join(',')).join('|')}`;

interface ModelTable {
  ops: Map<string, number>;
  /** slowdown of op a when co-running with op b, keyed `a\nb`. */
  pair: Map<string, number>;
  meanSlowdown?: number;
  stages: Map<string, number>;
  syncMs: number;
}

export class ProfiledCostModel implements CostModel {
  readonly name: string;
  /** Node ids (as `model/node`) priced by the fallback because no profile covered them. */
  readonly fallbacks = new Set<string>();
  private readonly tables = new Map<string, ModelTable>();

  constructor(
    profiles: ProfileDocument[],
    private readonly fallback: CostModel,
  ) {
    if (!profiles.length) throw new Error('ProfiledCostModel needs at least one profile');
    const devices = new Set(profiles.map((p) => p.device.name));
    if (devices.size > 1) throw new Error(`profiles come from different devices: ${[...devices].join(', ')}`);
    this.name = `profiled:${profiles[0].device.name}`;
    for (const p of profiles) {
      if (!isProfileDocument(p)) throw new Error(`not a topsched profile (format 'topsched.profile/1')`);
      const pair = new Map<string, number>();
      const all: number[] = [];
      for (const x of p.pairs) {
        pair.set(`${x.a}\n${x.b}`, x.slowdown[0]);
        pair.set(`${x.b}\n${x.a}`, x.slowdown[1]);
        all.push(...x.slowdown);
      }
      const t: ModelTable = {
        ops: new Map(Object.entries(p.ops)),
        pair,
        meanSlowdown: all.length ? Math.exp(all.reduce((s, v) => s + Math.log(Math.max(v, 1e-9)), 0) / all.length) : undefined,
        stages: new Map(p.stages.map((s) => [stageKey(s), s.ms])),
        syncMs: 0,
      };
      this.tables.set(`${p.model}@${p.batch}`, t);
      // Calibrate the sync overhead against the measured multi-group stages.
      const excess = p.stages
        .filter((s) => s.kind === 'parallel' && s.groups.length > 1)
        .map((s) => s.ms - this.stretched(t, s.groups))
        .filter((v) => Number.isFinite(v))
        .sort((a, b) => a - b);
      if (excess.length) t.syncMs = Math.max(0, excess[excess.length >> 1]);
    }
  }

  private table(graph: Graph): ModelTable | undefined {
    return this.tables.get(`${graph.name}@${graph.batch}`);
  }

  private measured(t: ModelTable | undefined, graph: Graph, node: Node): number {
    const v = t?.ops.get(node.id);
    if (v !== undefined) return v;
    this.fallbacks.add(`${graph.name}/${node.id}`);
    return this.fallback.opLatency(graph, node);
  }

  opLatency(graph: Graph, node: Node): number {
    return this.measured(this.table(graph), graph, node);
  }

  /** Longest chain after co-run stretching (table values only; NaN if an op is missing). */
  private stretched(t: ModelTable, groups: string[][]): number {
    const chain = groups.map((g) => g.reduce((s, id) => s + (t.ops.get(id) ?? Number.NaN), 0));
    return Math.max(...chain.map((c, i) => c * this.factor(t, groups, i, undefined)));
  }

  /** Slowdown of group i co-running with the others: the worst measured pair, else the mean. */
  private factor(t: ModelTable, groups: string[][], i: number, otherwise: number | undefined): number {
    if (groups.length < 2) return 1;
    let f = 0;
    for (let j = 0; j < groups.length; j++) {
      if (j === i) continue;
      for (const a of groups[i]) for (const b of groups[j]) f = Math.max(f, t.pair.get(`${a}\n${b}`) ?? 0);
    }
    if (f > 0) return f;
    return t.meanSlowdown ?? otherwise ?? 1;
  }

  stageLatency(graph: Graph, stage: Stage): number {
    const t = this.table(graph);
    const exact = t?.stages.get(stageKey(stage));
    if (exact !== undefined) return exact;
    const nodes = stageNodes(graph, stage, nodeMap(graph));
    if (stage.kind === 'merge') {
      const measured = nodes.flat().reduce((s, n) => s + this.measured(t, graph, n), 0);
      const seq = nodes.flat().reduce((s, n) => s + this.fallback.opLatency(graph, n), 0);
      return seq > 0 ? (measured * this.fallback.stageLatency(graph, stage)) / seq : measured;
    }
    const chains = nodes.map((g) => g.reduce((s, n) => s + this.measured(t, graph, n), 0));
    if (nodes.length === 1) return chains[0];
    // Without any measured pair, the fallback's own view of contention: its stage over its longest chain.
    let otherwise: number | undefined;
    if (!t || t.meanSlowdown === undefined) {
      const fbChains = nodes.map((g) => g.reduce((s, n) => s + this.fallback.opLatency(graph, n), 0));
      const longest = Math.max(...fbChains);
      otherwise = longest > 0 ? this.fallback.stageLatency(graph, stage) / longest : 1;
    }
    const stretched = chains.map((c, i) => c * (t ? this.factor(t, stage.groups, i, otherwise) : (otherwise ?? 1)));
    return Math.max(...stretched) + (t?.syncMs ?? 0);
  }
}
