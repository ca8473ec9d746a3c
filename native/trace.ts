/**
 * RunReport → Chrome trace-event JSON (opens in Perfetto / chrome://tracing): one track per stream
 * with one slice per op, one track per task spanning its lifetime, and flow arrows for every
 * cross-stream dependency (a stage's groups wait for the previous stage's groups on other streams).
 */
import { writeFileAtomic } from '../graphs/atomic-write.js';
import type { RunReport } from './index.js';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'M' | 's' | 'f';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: 'e';
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}

const PID = 1;
const TASK_TID = 1000;

export function toChromeTrace(report: RunReport, { title = 'topsched native run' }: { title?: string } = {}): ChromeTrace {
  const ev: TraceEvent[] = [{ name: 'process_name', ph: 'M', pid: PID, tid: 0, args: { name: title } }];
  const streams = [...new Set(report.ops.map((o) => o.stream))].sort((a, b) => a - b);
  for (const s of streams) {
    ev.push({ name: 'thread_name', ph: 'M', pid: PID, tid: s, args: { name: `stream ${s}` } });
    ev.push({ name: 'thread_sort_index', ph: 'M', pid: PID, tid: s, args: { sort_index: s } });
  }
  const byKey = new Map(report.ops.map((o) => [`${o.task}/${o.node}`, o]));
  for (const o of report.ops) {
    const model = report.tasks[o.task]?.model;
    ev.push({
      name: o.node,
      ph: 'X',
      pid: PID,
      tid: o.stream,
      ts: o.startUs,
      dur: Math.max(o.endUs - o.startUs, 0.001),
      cat: `task ${o.task}`,
      args: { task: o.task, model },
    });
  }
  let flow = 0;
  for (const t of report.tasks) {
    const tid = TASK_TID + t.task;
    ev.push({ name: 'thread_name', ph: 'M', pid: PID, tid, args: { name: `task ${t.task} (${t.model})` } });
    ev.push({
      name: t.error ? `${t.model} (failed)` : t.model,
      ph: 'X',
      pid: PID,
      tid,
      ts: t.beginUs,
      dur: Math.max(t.endUs - t.beginUs, 0.001),
      cat: 'task',
      args: {
        latencyMs: t.latencyMs,
        queueMs: t.queueMs,
        memory: t.memory,
        arenaBytes: t.arenaBytes,
        loadBytes: t.loadBytes,
        naiveBytes: t.naiveBytes,
        error: t.error,
      },
    });
    const groups = t.groups ?? [];
    for (const g of groups) {
      if (g.stage === 0) continue;
      const to = byKey.get(`${t.task}/${g.first}`);
      if (!to) continue;
      for (const h of groups) {
        if (h.stage !== g.stage - 1 || h.stream === g.stream) continue;
        const from = byKey.get(`${t.task}/${h.last}`);
        if (!from) continue;
        flow++;
        // The start binds to the slice open at its timestamp: just inside the producer's last op.
        const ts = Math.max(from.startUs, from.endUs - Math.min(0.5, (from.endUs - from.startUs) / 2));
        ev.push({ name: 'dependency', ph: 's', pid: PID, tid: h.stream, ts, id: flow, cat: 'flow' });
        ev.push({ name: 'dependency', ph: 'f', pid: PID, tid: g.stream, ts: to.startUs, id: flow, cat: 'flow', bp: 'e' });
      }
    }
  }
  return { traceEvents: ev, displayTimeUnit: 'ms', otherData: { wallMs: report.wallMs, tasks: report.tasks.length, memory: report.memory } };
}

/** Writes the trace atomically (temp file + rename). */
export function writeChromeTrace(path: string, report: RunReport, opts: { title?: string } = {}): void {
  writeFileAtomic(path, JSON.stringify(toChromeTrace(report, opts)));
}
