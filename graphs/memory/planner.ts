/**
 * Activation memory planning into one arena (GAMMA's idea; the algorithm is "greedy by size" with
 * best fit from Pisarchyk & Lee 2020, "Efficient Memory Management for Deep Neural Net Inference",
 * as in TFLite's ArenaPlanner / simple_memory_arena):
 *
 *   take tensors largest first; for each, look only at already placed tensors whose lifetimes
 *   conflict with it (its neighbours in the conflict graph, conflicts.ts), in offset order, and put it in the smallest gap between them that fits
 *   (best fit), or after the last of them when no gap fits.
 *
 * Sizes are rounded up to 64 bytes, so every offset is 64-byte aligned (cache lines, SIMD loads).
 * Reported with the plan: the arena size, LOAD (the most bytes live at once — the largest clique of
 * conflicting tensors, a lower bound for any placement) and the naive size (every tensor its own
 * buffer). Two front ends: a schedule (lifetimes.ts derives safe lifetimes under concurrent groups)
 * or an allocation trace (e.g. the first k runs).
 */
import { type Graph, GraphError } from '../ir.js';
import type { Schedule } from '../schedule.js';
import { type ConflictGraph, scheduleConflictGraph, traceConflictGraph } from './conflicts.js';
import {
  type AllocEvent,
  type ScheduleLifetime,
  type ScheduleLifetimeOptions,
  scheduleConflict,
  scheduleLifetimes,
  scheduleLoad,
  type TraceLifetime,
  traceConflict,
  traceLifetimes,
  traceLoad,
  unionLifetime,
} from './lifetimes.js';

export type { AllocEvent, Footprint, ScheduleLifetime, ScheduleLifetimeOptions, TraceLifetime } from './lifetimes.js';

export const ARENA_ALIGNMENT = 64;

export function alignUp(bytes: number, alignment = ARENA_ALIGNMENT): number {
  return Math.ceil(bytes / alignment) * alignment;
}

export interface MemoryPlan {
  /** Byte offset of each tensor in the arena. */
  offsets: Map<string, number>;
  /** Planned (aligned) size of each tensor. */
  sizes: Map<string, number>;
  arenaBytes: number;
  /** The placement order that gave this arena. */
  strategy?: PlacementStrategy;
  /** Most bytes live at once: no placement can use less. */
  loadBytes: number;
  /** Sum of all tensor sizes: one buffer per tensor, no reuse. */
  naiveBytes: number;
  /** Whether two planned tensors may be live at the same time. */
  conflict(a: string, b: string): boolean;
}

export interface PlanOptions {
  alignment?: number;
  /** Placement orders to try (default all of PLACEMENT_STRATEGIES); the smallest arena wins. */
  strategies?: readonly PlacementStrategy[];
}

/**
 * Best-fit placement of tensors taken in `order` (the core of every strategy below). Each tensor is
 * placed against its already placed neighbours in the conflict graph only: O(d log d) for a tensor
 * with d neighbours.
 */
export function placeInOrder(order: readonly number[], sizes: readonly number[], adj: ConflictGraph): { offsets: number[]; arenaBytes: number } {
  const offsets = new Array<number>(sizes.length).fill(-1);
  let arena = 0;
  for (const t of order) {
    const neighbours = adj[t].filter((p) => offsets[p] >= 0).sort((a, b) => offsets[a] - offsets[b]);
    let prevEnd = 0;
    let best = -1;
    let bestGap = Number.POSITIVE_INFINITY;
    for (const p of neighbours) {
      const gap = offsets[p] - prevEnd;
      if (gap >= sizes[t] && gap < bestGap) {
        best = prevEnd;
        bestGap = gap;
      }
      prevEnd = Math.max(prevEnd, offsets[p] + sizes[p]);
    }
    offsets[t] = best >= 0 ? best : prevEnd;
    arena = Math.max(arena, offsets[t] + sizes[t]);
  }
  return { offsets, arenaBytes: arena };
}

/**
 * Placement orders tried; the plan keeps the smallest arena (ties: the earlier strategy). Greedy by
 * size alone can miss LOAD by a few percent on graphs of many tiny tensors (DIN: 2.6 %); Pisarchyk &
 * Lee's "greedy by breadth" (tensors of the busiest moments first) often closes the gap, approximated
 * here by each tensor's conflict weight (bytes of the tensors it may coexist with).
 */
export const PLACEMENT_STRATEGIES = ['size', 'breadth', 'size-late-first', 'first-use'] as const;
export type PlacementStrategy = (typeof PLACEMENT_STRATEGIES)[number];

function strategyOrder(strategy: PlacementStrategy, sizes: readonly number[], adj: ConflictGraph, first: (i: number) => number): number[] {
  const idx = sizes.map((_, i) => i);
  const byFirst = (i: number, j: number) => first(i) - first(j) || i - j;
  switch (strategy) {
    case 'size':
      return idx.sort((i, j) => sizes[j] - sizes[i] || byFirst(i, j));
    case 'size-late-first':
      return idx.sort((i, j) => sizes[j] - sizes[i] || byFirst(j, i));
    case 'first-use':
      return idx.sort((i, j) => byFirst(i, j) || sizes[j] - sizes[i]);
    case 'breadth': {
      const weight = idx.map((i) => adj[i].reduce((w, j) => w + sizes[j], sizes[i]));
      return idx.sort((i, j) => weight[j] - weight[i] || sizes[j] - sizes[i] || byFirst(i, j));
    }
  }
}

function finish<L extends { name: string; bytes: number }>(
  lifetimes: L[],
  conflict: (a: L, b: L) => boolean,
  conflictGraph: (ls: L[]) => ConflictGraph,
  load: (ls: L[], size: (t: L) => number) => number,
  first: (t: L) => number,
  opts: PlanOptions,
): MemoryPlan & { lifetimes: L[] } {
  const alignment = opts.alignment ?? ARENA_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 1) throw new Error(`memory plan: alignment must be a positive integer, got ${alignment}`);
  const sizes = lifetimes.map((t) => alignUp(t.bytes, alignment));
  const adj = conflictGraph(lifetimes);
  const firstIx = (i: number) => first(lifetimes[i]);
  let best: { offsets: number[]; arenaBytes: number; strategy: PlacementStrategy } | undefined;
  for (const strategy of opts.strategies ?? PLACEMENT_STRATEGIES) {
    const placed = placeInOrder(strategyOrder(strategy, sizes, adj, firstIx), sizes, adj);
    if (!best || placed.arenaBytes < best.arenaBytes) best = { ...placed, strategy };
  }
  if (!best) throw new Error('memory plan: no placement strategy given');
  const { offsets, arenaBytes, strategy } = best;
  const index = new Map(lifetimes.map((t, i) => [t.name, i]));
  const sizeOf = new Map(lifetimes.map((t, i) => [t, sizes[i]]));
  return {
    offsets: new Map(lifetimes.map((t, i) => [t.name, offsets[i]])),
    sizes: new Map(lifetimes.map((t, i) => [t.name, sizes[i]])),
    arenaBytes,
    strategy,
    loadBytes: load(lifetimes, (t) => sizeOf.get(t) as number),
    naiveBytes: sizes.reduce((s, x) => s + x, 0),
    conflict: (a, b) => {
      const i = index.get(a);
      const j = index.get(b);
      if (i === undefined || j === undefined) throw new Error(`memory plan: no tensor '${i === undefined ? a : b}' in the plan`);
      return i !== j && conflict(lifetimes[i], lifetimes[j]);
    },
    lifetimes,
  };
}

/**
 * An in-place Concat (the native executor's; native/src/inplace.cpp): each input is written by its
 * producer straight into the output, `offset` bytes in, so it needs no memory of its own.
 */
export interface ConcatSlices {
  output: string;
  inputs: { name: string; offset: number }[];
}

/**
 * Plans the activations of `graph` run under `schedule` (see lifetimes.ts for the lifetime rules).
 * With `slices`, each Concat output is placed once for itself and its inputs (their lifetimes
 * united) and each input at its slice of it; the plan's conflict() treats a slice as its output.
 */
export function planMemory(
  graph: Graph,
  schedule: Schedule,
  opts: PlanOptions & ScheduleLifetimeOptions & { slices?: readonly ConcatSlices[] } = {},
): MemoryPlan & { lifetimes: ScheduleLifetime[] } {
  const all = scheduleLifetimes(graph, schedule, opts);
  const slices = opts.slices ?? [];
  if (!slices.length) return finish(all, scheduleConflict, scheduleConflictGraph, scheduleLoad, (t) => t.first, opts);
  const byName = new Map(all.map((l) => [l.name, l]));
  const holder = new Map<string, { output: string; offset: number }>();
  const lifetimeOf = (name: string, what: string) => {
    const l = byName.get(name);
    if (!l) throw new GraphError(`no planned tensor '${name}' (${what})`, `memory plan: concat slices of '${graph.name}'`);
    return l;
  };
  for (const c of slices)
    for (const i of c.inputs) {
      lifetimeOf(c.output, 'a Concat output');
      const l = lifetimeOf(i.name, `a slice of '${c.output}'`);
      if (holder.has(i.name) || !Number.isInteger(i.offset) || i.offset < 0 || i.offset + l.bytes > (byName.get(c.output) as ScheduleLifetime).bytes)
        throw new GraphError(`slice '${i.name}' at ${i.offset} does not fit '${c.output}' once`, `memory plan: concat slices of '${graph.name}'`);
      holder.set(i.name, { output: c.output, offset: i.offset });
    }
  const united = all
    .filter((l) => !holder.has(l.name))
    .map((l) =>
      slices.filter((c) => c.output === l.name).reduce((u, c) => c.inputs.reduce((v, i) => unionLifetime(v, byName.get(i.name) as ScheduleLifetime), u), l),
    );
  const plan = finish(united, scheduleConflict, scheduleConflictGraph, scheduleLoad, (t) => t.first, opts);
  const alignment = opts.alignment ?? ARENA_ALIGNMENT;
  const own = (name: string) => holder.get(name)?.output ?? name;
  for (const [name, h] of holder) {
    plan.offsets.set(name, (plan.offsets.get(h.output) as number) + h.offset);
    plan.sizes.set(name, (byName.get(name) as ScheduleLifetime).bytes);
    plan.naiveBytes += alignUp((byName.get(name) as ScheduleLifetime).bytes, alignment);
  }
  const conflict = plan.conflict;
  plan.conflict = (a, b) => own(a) !== own(b) && conflict(own(a), own(b));
  return plan;
}

/** Plans from an allocation trace: one offset per tensor, valid for every traced run. */
export function planFromTrace(events: readonly AllocEvent[], opts: PlanOptions = {}): MemoryPlan & { lifetimes: TraceLifetime[] } {
  return finish(traceLifetimes(events), traceConflict, traceConflictGraph, traceLoad, (t) => t.intervals[0]?.[0] ?? 0, opts);
}

/** Conflicting tensor pairs whose byte ranges overlap (empty for a correct plan). */
export function planViolations(plan: MemoryPlan): string[] {
  const names = [...plan.offsets.keys()];
  const out: string[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i];
      const b = names[j];
      const a0 = plan.offsets.get(a) as number;
      const b0 = plan.offsets.get(b) as number;
      const overlap = a0 < b0 + (plan.sizes.get(b) as number) && b0 < a0 + (plan.sizes.get(a) as number);
      if (overlap && plan.conflict(a, b)) out.push(`'${a}' [${a0}, +${plan.sizes.get(a)}) overlaps '${b}' [${b0}, +${plan.sizes.get(b)}) while both are live`);
    }
  }
  return out;
}
