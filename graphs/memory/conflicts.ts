/**
 * The conflict graph of a set of lifetimes (which tensors may be live together), built
 * output-sensitively: O((n + c) log n) for n tensors and c conflicting pairs, never all n² pairs.
 * The planner places each tensor against its placed neighbours only, so a 50,000-op chain (about
 * 2 neighbours per tensor) plans in well under a second instead of never.
 *
 * Schedules. Two tensors conflict iff their footprints meet in the *first* stage they share,
 * x = max(a.first, b.first): if they do not meet there, both are in one group of x with disjoint
 * position ranges, and one of them ends at x (a footprint with a finite end is a tensor that dies
 * in its stage; a tail ends its span). So each stage s only pairs the tensors that begin in s with
 * everything alive in s: wholes meet everything, footprints of different groups meet, footprints
 * of one group meet when their position ranges overlap (a sweep over the group's ranges).
 * Traces. Two tensors conflict iff some of their [alloc, free] intervals overlap: one sweep.
 */
import { Heap } from '../heap.js';
import type { Footprint, ScheduleLifetime, TraceLifetime } from './lifetimes.js';

/** Adjacency lists, sorted and without duplicates; adj[i] never holds i. */
export type ConflictGraph = number[][];

interface Span {
  id: number;
  from: number;
  to: number;
}

/** Calls pair(a, b) for every two spans whose closed ranges overlap (sweep by start). */
export function overlappingPairs(spans: Span[], pair: (a: number, b: number) => void): void {
  const sorted = [...spans].sort((x, y) => x.from - y.from || x.to - y.to);
  // Spans still open, by end: those ending before a start can never meet a later span.
  const live = new Heap<Span>((x, y) => x.to < y.to);
  for (const s of sorted) {
    while (live.size && (live.peek() as Span).to < s.from) live.pop();
    for (const o of live.items) pair(o.id, s.id);
    live.push(s);
  }
}

function finishGraph(n: number, raw: number[][]): ConflictGraph {
  for (let i = 0; i < n; i++) {
    const list = raw[i];
    if (list.length < 2) continue;
    list.sort((a, b) => a - b);
    let k = 1;
    for (let j = 1; j < list.length; j++) if (list[j] !== list[k - 1]) list[k++] = list[j];
    list.length = k;
  }
  return raw;
}

/** The footprint of a tensor in stage s (within its span); undefined = the whole stage. */
export function footprintAt(t: ScheduleLifetime, s: number): Footprint | undefined {
  if (s === t.first) return t.head;
  if (s === t.last) return t.tail;
  return undefined;
}

/**
 * Visits every stage with the tensors alive in it (`alive`, indices) — the sum of span lengths
 * in all, which each stage's new tensors bound by their conflicts.
 */
export function forEachStage(lifetimes: readonly ScheduleLifetime[], visit: (s: number, alive: number[]) => void): void {
  const stages = lifetimes.reduce((m, t) => Math.max(m, t.last + 1), 0);
  const starts: number[][] = Array.from({ length: stages }, () => []);
  lifetimes.forEach((t, i) => {
    starts[t.first].push(i);
  });
  let alive: number[] = [];
  for (let s = 0; s < stages; s++) {
    alive = alive.filter((i) => lifetimes[i].last >= s);
    for (const i of starts[s]) alive.push(i);
    visit(s, alive);
  }
}

export function scheduleConflictGraph(lifetimes: readonly ScheduleLifetime[]): ConflictGraph {
  const adj: number[][] = lifetimes.map(() => []);
  const add = (a: number, b: number) => {
    if (a === b) return;
    adj[a].push(b);
    adj[b].push(a);
  };
  forEachStage(lifetimes, (s, alive) => {
    const isNew = (i: number) => lifetimes[i].first === s;
    const fresh = alive.filter(isNew);
    if (!fresh.length) return;
    const groups = new Map<number, Span[]>();
    for (const i of alive) {
      const f = footprintAt(lifetimes[i], s);
      if (!f) {
        // A whole-stage tensor meets everything alive here; pair it with what begins here.
        for (const j of isNew(i) ? alive : fresh) add(i, j);
        continue;
      }
      const span = { id: i, from: f.from, to: f.to };
      const list = groups.get(f.group);
      if (list) list.push(span);
      else groups.set(f.group, [span]);
    }
    for (const [g, spans] of groups) {
      // Concurrent groups: every footprint of another group meets a new one of this group.
      for (const a of spans) {
        if (!isNew(a.id)) continue;
        for (const [h, others] of groups) if (h !== g) for (const b of others) add(a.id, b.id);
      }
      overlappingPairs(spans, (a, b) => {
        if (isNew(a) || isNew(b)) add(a, b);
      });
    }
  });
  return finishGraph(lifetimes.length, adj);
}

export function traceConflictGraph(lifetimes: readonly TraceLifetime[]): ConflictGraph {
  const adj: number[][] = lifetimes.map(() => []);
  const spans: Span[] = [];
  lifetimes.forEach((t, id) => {
    for (const [from, to] of t.intervals) spans.push({ id, from, to });
  });
  overlappingPairs(spans, (a, b) => {
    if (a === b) return;
    adj[a].push(b);
    adj[b].push(a);
  });
  return finishGraph(lifetimes.length, adj);
}

/** Heaviest point of a set of position ranges: the most bytes covering one position. */
export function peakOfSpans(spans: readonly { from: number; to: number; bytes: number }[]): number {
  const events: [number, number][] = [];
  for (const s of spans) {
    events.push([s.from, s.bytes]);
    events.push([s.to, -s.bytes]);
  }
  // Closed ranges: at equal positions, starts count before ends.
  events.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of events) {
    live += d;
    if (live > peak) peak = live;
  }
  return peak;
}
