/**
 * The real-time native env (`executor: 'native', clock: 'wall'`): launches run concurrently on the
 * executor and straddle decisions, epochs lie on a fixed grid, and the policy's decision time is
 * counted (an overrun is reported).
 */
import { describe, expect, test } from 'vitest';
import { AsyncInferenceEnv, LAUNCHER, SCHEDULER } from '../env/async-inference-env.js';
import type { EnvMetrics } from '../env/metrics.js';
import { runEpisode } from '../experiments/harness/episode.js';
import { GraphBuilder } from '../graphs/builder.js';
import type { Graph } from '../graphs/ir.js';
import { nativeAvailable } from '../native/index.js';

/** A conv stack that takes a few ms on one CPU thread: longer than the 2 ms epochs below. */
function slowGraph(): Graph {
  const b = new GraphBuilder('slow');
  let x = b.input('input', [1, 32, 56, 56]);
  for (let i = 0; i < 6; i++) x = b.relu(b.conv(x, { out: 32, kernel: 3, pad: 1 }));
  b.output(b.linear(b.flatten(b.globalAvgPool(x)), 10));
  return b.build();
}

const workload = { models: [{ name: 'slow', sloMs: 200, arrival: { kind: 'poisson', rate: 400 } }] };
const wallEnv = (epochMs: number, maxSteps: number) =>
  new AsyncInferenceEnv({ workload, graphs: { slow: slowGraph() }, executor: 'native', streams: 2, epochMs, maxSteps, batchSizes: [1] });
const releaseOne = { [LAUNCHER]: [1], [SCHEDULER]: [0, 0] };

describe.runIf(nativeAvailable())('real-time native env', () => {
  test('launches straddle decisions; completions carry executor times; epochs stay on the grid', async () => {
    const env = wallEnv(2, 40);
    expect(env.wallClock).toBe(true);
    await env.prepareAsync();
    env.reset({ seed: 1 });
    let straddled = 0;
    let last = 0;
    for (let k = 1; env.agents.length; k++) {
      const r = await env.stepAsync(releaseOne);
      const t = r.infos[LAUNCHER].timeMs as number;
      // Boundary k · epoch is reached (timers fire late, never early), and time never goes back.
      expect(t).toBeGreaterThanOrEqual(2 * k - 1e-9);
      expect(t).toBeGreaterThan(last);
      last = t;
      if (env.executor.inFlight(0) > 0) straddled++;
    }
    // A launch takes longer than an epoch, so decisions happen while launches run.
    expect(straddled).toBeGreaterThan(10);
    await env.executor.settle?.();
    const m = env.metrics() as EnvMetrics;
    expect(m.completed).toBeGreaterThan(0);
    // Compute time is measured on the executor: a launch of this model takes ≥ 0.1 ms.
    expect(m.meanComputeMs).toBeGreaterThan(0.1);
    const stats = env.clockStats();
    expect(stats?.epochs).toBe(40);
    env.close();
  });

  test("the policy's decision time passes on the env clock; a decision past its boundary is an overrun", async () => {
    const env = wallEnv(5, 6);
    await env.prepareAsync();
    env.reset({ seed: 2 });
    const slowPolicy = {
      act: () => {
        const until = performance.now() + 12;
        while (performance.now() < until) {}
        return releaseOne;
      },
    };
    const r = await runEpisode(env, slowPolicy as never, { seed: 2, seriesEveryMs: 0 });
    // Each step: a 12 ms decision, then the next 5 ms boundary; at least two boundaries pass each time.
    expect(r.overruns).toBeGreaterThanOrEqual(r.steps - 1);
    expect(r.seconds).toBeGreaterThanOrEqual((r.steps * 12) / 1000);
    expect(env.clockStats()?.overruns).toBeGreaterThanOrEqual(r.steps - 1);
    env.close();
  });

  test('the arrivals are the seeded process, as in the simulator', async () => {
    const sim = new AsyncInferenceEnv({ workload, graphs: { slow: slowGraph() }, epochMs: 2, maxSteps: 0, batchSizes: [1] });
    const env = wallEnv(2, 0);
    await env.prepareAsync();
    env.reset({ seed: 3 });
    sim.reset({ seed: 3 });
    const idle = { [LAUNCHER]: [0], [SCHEDULER]: [0, 0] };
    let t = 0;
    while (t < 30) t = (await env.stepAsync(idle)).infos[LAUNCHER].timeMs as number;
    // The wall env ingested at some time in [boundary k, t]: between the simulator's counts at k and k + 1.
    const k = Math.floor(t / 2);
    while (sim.executor.now() < 2 * k) sim.step(idle);
    const before = sim.view().queueLength(0);
    sim.step(idle);
    const after = sim.view().queueLength(0);
    const wall = env.view().queueLength(0);
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(after);
    expect(env.view().headArrivalMs(0)).toBe(sim.view().headArrivalMs(0));
    env.close();
  });
});

describe.runIf(nativeAvailable())('sim-fidelity on the real-time env', () => {
  test('one mix, one load: signed errors per case and the calibration behind them', async () => {
    const { measureSimFidelity } = await import('../experiments/reproduce/sim-fidelity.js');
    const r = await measureSimFidelity({ mixes: [['din', 'squeezenet1_1']], loads: [0.5], streams: [1], seconds: 1.5 });
    expect(r.cases).toHaveLength(1);
    const c = r.cases[0];
    expect(c).toMatchObject({ mix: 'din+squeezenet1_1', load: 0.5, streams: 1 });
    for (const k of ['throughputErr', 'p50Err', 'p95Err', 'p99Err'] as const) expect(Number.isFinite(c[k]), k).toBe(true);
    expect(c.throughputErr).toBeCloseTo((c.sim.throughput - c.native.throughput) / c.native.throughput, 12);
    expect(c.native.completed).toBeGreaterThan(0);
    const cal = r.calibrations[0];
    expect(Object.keys(cal.launchOverheadMs).sort()).toEqual(['din', 'squeezenet1_1']);
    for (const l of cal.launches) expect(cal.launchOverheadMs[l.model]).toBeCloseTo(Math.max(0, l.measuredMs - l.pricedMs), 12);
  }, 60_000);
});
