/**
 * Timing schedules on the native CPU executor (native/index.ts) for the reproductions: one
 * executor per graph, the model loaded once, and the schedules run round-robin (run k of every
 * schedule before run k + 1 of any) so background load on the shared machine hits all alike.
 * Latency is the executor's task latency (first command to last), as in native/bench.ts.
 */
import { median } from '../../env/stats.js';
import type { Graph } from '../../graphs/ir.js';
import type { Schedule } from '../../graphs/schedule.js';
import { NativeExecutor } from '../../native/index.js';

export interface NativeTimingOptions {
  runs: number;
  warmup: number;
  /** Stream pool size (worker threads); each op single-threaded. */
  streams: number;
}

/** Median task latency (ms) of each schedule. */
export async function timeSchedules(graph: Graph, schedules: Schedule[], o: NativeTimingOptions): Promise<number[]> {
  if (!(o.runs >= 1)) throw new Error(`timeSchedules: 'runs' must be ≥ 1, got ${o.runs}`);
  const ex = new NativeExecutor({ streams: o.streams, opThreads: 1 });
  try {
    const model = await ex.loadModel(graph);
    const samples: number[][] = schedules.map(() => []);
    for (let i = 0; i < o.warmup + o.runs; i++) {
      for (let k = 0; k < schedules.length; k++) {
        const r = await ex.run([{ model, schedule: schedules[k] }], { streams: o.streams });
        if (i >= o.warmup) samples[k].push(r.tasks[0].latencyMs);
      }
    }
    return samples.map(median);
  } finally {
    ex.close();
  }
}
