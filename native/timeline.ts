/**
 * A run's per-op, per-stage and per-group records, decoded from the numbers the addon returns
 * (native/src/report.cpp reportTimeline) only when a caller reads them: most runs (a benchmark, a
 * server answering requests) never do, and writing and parsing them as JSON cost ~0.2 ms per run
 * of MobileNetV2's 60 ops.
 */
import type { OpTiming, RunReport, TaskReport } from './index.js';

type Stage = NonNullable<TaskReport['stages']>[number];
type Group = NonNullable<TaskReport['groups']>[number];

/** Defines `key` on `o` as a value computed on first read (and replaceable like a plain property). */
function lazy<T extends object, K extends keyof T>(o: T, key: K, make: () => T[K]): void {
  const settle = (value: T[K]) => Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(o, key, {
    enumerable: true,
    configurable: true,
    get() {
      const v = make();
      settle(v);
      return v;
    },
    set(v: T[K]) {
      settle(v);
    },
  });
}

/**
 * Gives `report` its `ops` and each task that did not fail its `stages` and `groups`, read from
 * `timeline`; `nodeIds(task)` names the nodes of that task's model in the executor's order.
 */
export function attachTimeline(report: RunReport, timeline: Float64Array, nodeIds: (task: number) => readonly string[]): void {
  const parts: { task: number; base: number; nodes: number }[] = [];
  for (let k = 0; k < timeline.length; ) {
    const [task, nodes, stages, groups] = [timeline[k], timeline[k + 1], timeline[k + 2], timeline[k + 3]];
    const base = k + 4;
    const t = report.tasks[task];
    if (!t) throw new Error(`run report: timeline names task ${task}, the run has ${report.tasks.length}`);
    parts.push({ task, base, nodes });
    const stageBase = base + nodes * 4;
    const groupBase = stageBase + stages * 2;
    lazy(t, 'stages', () => {
      const out: Stage[] = [];
      for (let i = 0; i < stages; i++) out.push({ startUs: timeline[stageBase + 2 * i], endUs: timeline[stageBase + 2 * i + 1] });
      return out;
    });
    lazy(t, 'groups', () => {
      const ids = nodeIds(task);
      const out: Group[] = [];
      for (let i = 0, j = groupBase; i < groups; i++, j += 5)
        out.push({ stage: timeline[j], group: timeline[j + 1], stream: timeline[j + 2], first: ids[timeline[j + 3]], last: ids[timeline[j + 4]] });
      return out;
    });
    k = groupBase + groups * 5;
  }
  lazy(report, 'ops', () => {
    const out: OpTiming[] = [];
    for (const { task, base, nodes } of parts) {
      const ids = nodeIds(task);
      for (let i = 0, j = base; i < nodes; i++, j += 4)
        out.push({ node: ids[i], stream: timeline[j + 2], task, startUs: timeline[j], endUs: timeline[j + 1], threads: timeline[j + 3] });
    }
    return out;
  });
}
