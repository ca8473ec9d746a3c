/**
 * Profiling on the native executor: per-op latency (alone on one stream), per-stage latency (the
 * stage's groups on their streams) and co-run slowdown of op pairs (two streams at once), written
 * as a profile JSON keyed by device, which `ProfiledCostModel` (graphs/cost/profiled.ts) reads.
 * Timing follows IOS: `warmup` runs, then `repeat` samples of `number` back-to-back runs each; the
 * tables hold medians.
 */
import { cpus } from 'node:os';
import { writeFileAtomic } from '../graphs/atomic-write.js';
import type { ProfileDocument } from '../graphs/cost/profiled.js';
import type { Graph } from '../graphs/ir.js';
import type { Schedule } from '../graphs/schedule.js';
import type { ModelHandle, NativeExecutor, ProfileOptions } from './index.js';

export type { ProfileDocument } from '../graphs/cost/profiled.js';

export interface ProfileModelOptions extends Omit<ProfileOptions, 'pairs'> {
  /** Stages are timed as this schedule has them; pairs are drawn from its multi-group stages. */
  schedule: Schedule;
  /** Op pairs to co-run: explicit, or 'auto' (the heaviest op of each two groups of each multi-group stage). Default 'auto'. */
  pairs?: [string, string][] | 'auto';
  /** Most auto pairs. Default 32. */
  maxPairs?: number;
}

/** For every stage with ≥ 2 groups: the heaviest op (by FLOPs) of group i against that of group j. */
export function autoPairs(graph: Graph, schedule: Schedule, maxPairs = 32): [string, string][] {
  const flops = new Map(graph.nodes.map((n) => [n.id, n.flops]));
  const heaviest = (g: string[]) => g.reduce((a, b) => ((flops.get(b) ?? 0) > (flops.get(a) ?? 0) ? b : a));
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const st of schedule.stages) {
    if (st.kind !== 'parallel' || st.groups.length < 2) continue;
    const tops = st.groups.map(heaviest);
    for (let i = 0; i < tops.length; i++)
      for (let j = i + 1; j < tops.length; j++) {
        const key = [tops[i], tops[j]].sort().join('\n');
        if (seen.has(key) || out.length >= maxPairs) continue;
        seen.add(key);
        out.push([tops[i], tops[j]]);
      }
  }
  return out;
}

export async function profileModel(ex: NativeExecutor, model: ModelHandle, opts: ProfileModelOptions): Promise<ProfileDocument> {
  const { schedule, pairs = 'auto', maxPairs = 32, ...rest } = opts;
  const list = pairs === 'auto' ? autoPairs(model.graph, schedule, maxPairs) : pairs;
  const p = await ex.profile(model, schedule, { ...rest, pairs: ex.streams >= 2 ? list : [] });
  const info = ex.info() as { device?: string; dnnl?: string; backend?: string };
  const ops: Record<string, number> = {};
  for (const [id, s] of Object.entries(p.ops ?? {})) ops[id] = s.medianMs;
  return {
    format: 'topsched.profile/1',
    device: {
      name: `${info.backend ?? ex.backend}:${info.device ?? cpus()[0]?.model ?? 'unknown'}:${ex.opThreads}t`,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      threads: cpus().length,
      backend: ex.backend,
      opThreads: ex.opThreads,
      streams: ex.streams,
      ...(info.dnnl ? { dnnl: info.dnnl } : {}),
    },
    model: model.graph.name,
    batch: model.graph.batch,
    settings: p.settings,
    ops,
    opStats: p.ops ?? {},
    stages: (p.stages ?? []).map((s) => ({ groups: schedule.stages[s.index].groups, kind: schedule.stages[s.index].kind, ms: s.medianMs })),
    pairs: p.pairs.map((x) => ({ a: x.a, b: x.b, aloneMs: x.aloneMs, corunMs: x.corunMs, slowdown: x.slowdown })),
  };
}

/** Writes the profile atomically (temp file + rename). */
export function writeProfile(path: string, profile: ProfileDocument): void {
  writeFileAtomic(path, `${JSON.stringify(profile, null, 1)}\n`);
}
