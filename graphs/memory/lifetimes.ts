/**
 * Activation lifetimes for the arena planner, from a schedule or from an allocation trace.
 *
 * From a schedule. Stages run one after another; the groups of a stage run concurrently with no
 * ordering between them; a group's operators run in order. Two tensors may share memory only if one
 * is dead (every reader finished) before the other's producer starts, in *every* interleaving of the
 * concurrent groups. A tensor's lifetime is its stage span [first, last] (producer's stage to the
 * last reader's stage) and, in its first and last stage, a *footprint*: the part of the stage where
 * it can be live —
 *  - first stage: from the producer's position in its group's chain on (to the stage end when it is
 *    read later, else to its last reader's position in that chain: a "local" tensor);
 *  - last stage: up to the last reader's position, when every reader in that stage is in one group
 *    (else the whole stage);
 *  - stages in between: the whole stage.
 * Footprints in the same group meet when their position ranges meet (the chain orders the ops);
 * footprints in different groups always meet (the groups are concurrent); a whole stage meets
 * anything. Two tensors conflict iff their footprints meet in some shared stage — only the first and
 * last shared stage need checking, every stage between is whole for one of them. So a Conv→BN→ReLU
 * chain reuses memory inside its group, and nothing is shared across concurrent groups.
 * Graph inputs are live from the start (the executor writes them before stage 0) to their last
 * reader; graph outputs stay live to the end of the last stage (read after the run). An output no
 * one reads is live during its producer only. Weights (initializers) are not activations and are
 * left out. Every node output is its own tensor: no in-place reuse of an input by its reader.
 *
 * From a trace. Events are alloc/free in the order they happened, e.g. recorded from the first k
 * runs; the same tensor may be allocated once per run. A tensor's lifetime is the list of its
 * [alloc, free] event-index intervals (to the end of the trace when never freed); two tensors
 * conflict if any of their intervals overlap, so one offset serves every traced run.
 */
import { dtypeBytes, type Graph, GraphError, numel } from '../ir.js';
import { type Schedule, validateSchedule } from '../schedule.js';
import { footprintAt, forEachStage, peakOfSpans } from './conflicts.js';

export type TensorRole = 'input' | 'activation' | 'output';

/** Where a tensor may be live inside one stage: positions [from, to] of one group's chain. */
export interface Footprint {
  group: number;
  /** -1: from the start of the stage. */
  from: number;
  /** Infinity: to the end of the stage. */
  to: number;
}

export interface ScheduleLifetime {
  name: string;
  /** Unaligned size. */
  bytes: number;
  role: TensorRole;
  /** Stage span, inclusive. */
  first: number;
  last: number;
  /** Footprint in stage `first`; absent: the whole stage. */
  head?: Footprint;
  /** Footprint in stage `last` when last > first; absent: the whole stage. */
  tail?: Footprint;
}

export interface ScheduleLifetimeOptions {
  /** Plan graph inputs into the arena too. Default true. */
  includeInputs?: boolean;
}

interface Place {
  stage: number;
  group: number;
  at: number;
}

/** Footprint of reads in one stage: up to the last read when one group does them all, else whole. */
function readFootprint(reads: Place[]): Footprint | undefined {
  if (!reads.length || reads.some((r) => r.group !== reads[0].group)) return undefined;
  return { group: reads[0].group, from: -1, to: reads.reduce((m, r) => Math.max(m, r.at), -1) };
}

export function scheduleLifetimes(graph: Graph, schedule: Schedule, opts: ScheduleLifetimeOptions = {}): ScheduleLifetime[] {
  validateSchedule(graph, schedule, `memory plan: schedule for '${graph.name}'`);
  const where = new Map<string, Place>();
  schedule.stages.forEach((st, stage) => {
    st.groups.forEach((g, group) => {
      g.forEach((id, at) => {
        where.set(id, { stage, group, at });
      });
    });
  });
  const inits = new Set(graph.initializers.map((i) => i.name));
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const readers = new Map<string, Place[]>();
  for (const n of graph.nodes) {
    const p = where.get(n.id) as Place;
    for (const t of new Set(n.inputs)) {
      if (inits.has(t)) continue;
      const list = readers.get(t);
      if (list) list.push(p);
      else readers.set(t, [p]);
    }
  }
  const end = Math.max(0, schedule.stages.length - 1);
  const out: ScheduleLifetime[] = [];
  const lastReads = (rs: Place[], last: number) => readFootprint(rs.filter((r) => r.stage === last));
  if (opts.includeInputs ?? true) {
    for (const v of graph.inputs) {
      const rs = readers.get(v.name) ?? [];
      const bytes = numel(v.shape) * dtypeBytes(v.dtype);
      if (outputs.has(v.name) || !rs.length) {
        // Read after the run, or by no one: whole stages (an unread input still has to be written).
        out.push({ name: v.name, bytes, role: 'input', first: 0, last: outputs.has(v.name) ? end : 0 });
        continue;
      }
      const last = rs.reduce((m, r) => Math.max(m, r.stage), 0);
      const tail = lastReads(rs, last);
      out.push({ name: v.name, bytes, role: 'input', first: 0, last, ...(last === 0 ? (tail ? { head: tail } : {}) : tail ? { tail } : {}) });
    }
  }
  for (const n of graph.nodes) {
    const p = where.get(n.id) as Place;
    n.outputs.forEach((t, k) => {
      const shape = n.outShapes[k];
      if (!shape) throw new GraphError(`output ${k} ('${t}') has no inferred shape; run inferGraph first`, `node '${n.id}'`);
      const bytes = numel(shape) * dtypeBytes(n.outDtypes[k] ?? 'float32');
      const rs = readers.get(t) ?? [];
      if (outputs.has(t)) {
        out.push({ name: t, bytes, role: 'output', first: p.stage, last: end, head: { group: p.group, from: p.at, to: Number.POSITIVE_INFINITY } });
        return;
      }
      const last = rs.reduce((m, r) => Math.max(m, r.stage), p.stage);
      if (last === p.stage) {
        // Valid schedules read a tensor in its own stage only from the producer's group.
        const to = rs.reduce((m, r) => Math.max(m, r.at), p.at);
        out.push({ name: t, bytes, role: 'activation', first: p.stage, last, head: { group: p.group, from: p.at, to } });
        return;
      }
      const tail = lastReads(rs, last);
      out.push({
        name: t,
        bytes,
        role: 'activation',
        first: p.stage,
        last,
        head: { group: p.group, from: p.at, to: Number.POSITIVE_INFINITY },
        ...(tail ? { tail } : {}),
      });
    });
  }
  return out;
}

/**
 * The lifetime of memory that holds both `a` and `b` (an in-place Concat's output and a slice its
 * producer writes into it): from the earlier start to the later end, whole stages where both are
 * live in different groups; the first stage's footprint runs to its end and the last stage's from
 * its start when the union spans more than one stage (the memory stays held between them).
 */
export function unionLifetime(a: ScheduleLifetime, b: ScheduleLifetime): ScheduleLifetime {
  const first = Math.min(a.first, b.first);
  const last = Math.max(a.last, b.last);
  const at = (s: number): Footprint | undefined => {
    const live = [a, b].filter((t) => s >= t.first && s <= t.last).map((t) => footprintAt(t, s));
    if (live.some((f) => !f) || live.some((f) => f?.group !== live[0]?.group)) return undefined;
    const fs = live as Footprint[];
    return { group: fs[0].group, from: Math.min(...fs.map((f) => f.from)), to: Math.max(...fs.map((f) => f.to)) };
  };
  const head = at(first);
  const tail = last > first ? at(last) : undefined;
  return {
    name: a.name,
    bytes: a.bytes,
    role: a.role,
    first,
    last,
    ...(head ? { head: last > first ? { ...head, to: Number.POSITIVE_INFINITY } : head } : {}),
    ...(tail ? { tail: { ...tail, from: -1 } } : {}),
  };
}

function meet(a: Footprint | undefined, b: Footprint | undefined): boolean {
  if (!a || !b || a.group !== b.group) return true;
  return a.from <= b.to && b.from <= a.to;
}

/** Whether two schedule lifetimes may be live at the same time (so must not share memory). */
export function scheduleConflict(a: ScheduleLifetime, b: ScheduleLifetime): boolean {
  const x = Math.max(a.first, b.first);
  const y = Math.min(a.last, b.last);
  if (x > y) return false;
  if (y > x + 1) return true;
  return meet(footprintAt(a, x), footprintAt(b, x)) || (y > x && meet(footprintAt(a, y), footprintAt(b, y)));
}

/**
 * LOAD: the heaviest set of pairwise conflicting tensors. Such a set shares a stage where all of
 * them meet (stage spans are intervals), so LOAD = max over stages of the whole-stage tensors plus,
 * per group, the heaviest point of that group's footprints. `size` gives each planned size.
 */
export function scheduleLoad(lifetimes: readonly ScheduleLifetime[], size: (t: ScheduleLifetime) => number): number {
  let load = 0;
  forEachStage(lifetimes, (s, alive) => {
    let live = 0;
    const groups = new Map<number, { from: number; to: number; bytes: number }[]>();
    for (const i of alive) {
      const t = lifetimes[i];
      const f = footprintAt(t, s);
      if (!f) {
        live += size(t);
        continue;
      }
      const span = { from: f.from, to: f.to, bytes: size(t) };
      const list = groups.get(f.group);
      if (list) list.push(span);
      else groups.set(f.group, [span]);
    }
    for (const list of groups.values()) live += peakOfSpans(list);
    load = Math.max(load, live);
  });
  return load;
}

export interface AllocEvent {
  kind: 'alloc' | 'free';
  tensor: string;
  /** Required for alloc: bytes requested. */
  bytes?: number;
}

export interface TraceLifetime {
  name: string;
  /** Largest size requested for this tensor over the trace (unaligned). */
  bytes: number;
  /** [alloc, free] event indices, inclusive; a free never seen ends at the trace's length. */
  intervals: [number, number][];
}

export function traceLifetimes(events: readonly AllocEvent[]): TraceLifetime[] {
  const byName = new Map<string, TraceLifetime>();
  const open = new Map<string, number>();
  events.forEach((e, i) => {
    const at = `allocation trace event ${i}`;
    if (!e || typeof e.tensor !== 'string' || !e.tensor) throw new GraphError(`needs a tensor name, got ${JSON.stringify(e)}`, at);
    if (e.kind === 'alloc') {
      if (!(typeof e.bytes === 'number' && Number.isFinite(e.bytes) && e.bytes > 0))
        throw new GraphError(`alloc of '${e.tensor}' needs positive bytes, got ${JSON.stringify(e.bytes)}`, at);
      if (open.has(e.tensor)) throw new GraphError(`'${e.tensor}' is allocated again while live (since event ${open.get(e.tensor)})`, at);
      open.set(e.tensor, i);
      const t = byName.get(e.tensor);
      if (t) t.bytes = Math.max(t.bytes, e.bytes);
      else byName.set(e.tensor, { name: e.tensor, bytes: e.bytes, intervals: [] });
    } else if (e.kind === 'free') {
      const from = open.get(e.tensor);
      if (from === undefined) throw new GraphError(`free of '${e.tensor}', which is not live`, at);
      open.delete(e.tensor);
      (byName.get(e.tensor) as TraceLifetime).intervals.push([from, i]);
    } else throw new GraphError(`kind must be 'alloc' or 'free', got ${JSON.stringify((e as { kind: unknown }).kind)}`, at);
  });
  for (const [name, from] of open) (byName.get(name) as TraceLifetime).intervals.push([from, events.length]);
  return [...byName.values()];
}

export function traceConflict(a: TraceLifetime, b: TraceLifetime): boolean {
  for (const [a0, a1] of a.intervals) for (const [b0, b1] of b.intervals) if (a0 <= b1 && b0 <= a1) return true;
  return false;
}

/** Max over event times of the planned bytes live (LOAD of the trace). */
export function traceLoad(lifetimes: readonly TraceLifetime[], size: (t: TraceLifetime) => number): number {
  const delta = new Map<number, number>();
  for (const t of lifetimes) {
    for (const [a, b] of t.intervals) {
      delta.set(a, (delta.get(a) ?? 0) + size(t));
      delta.set(b + 1, (delta.get(b + 1) ?? 0) - size(t));
    }
  }
  let live = 0;
  let load = 0;
  for (const k of [...delta.keys()].sort((x, y) => x - y)) {
    live += delta.get(k) as number;
    load = Math.max(load, live);
  }
  return load;
}
