/**
 * The written-up parts of docs/results/sim-fidelity.md that only read a finished SimFidelityResult:
 * the error-source paragraph, the caveats and the plots (kept apart so sim-fidelity.ts holds the
 * measurement).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { EnvMetrics } from '../../env/metrics.js';
import { ROOFLINE_SHARE } from '../../env/sim/contention.js';
import { barChart, plotMarkdown, writePlot } from '../plot.js';
import type { EpochRuns, SimFidelityResult } from './sim-fidelity.js';

/** (sim − native) / native. */
export const rel = (sim: number, native: number) => (native > 0 ? (sim - native) / native : Number.NaN);

export const pct = (x: number) => {
  const t = (100 * x).toFixed(1);
  return t === '-0.0' || t === '0.0' ? '0.0 %' : `${x > 0 ? '+' : ''}${t} %`;
};

/** Stream-busy ms per completed request: the service time actually spent (native: measured op time). */
export function busyPerRequest(m: EnvMetrics, streams: number): number {
  return m.completed ? (m.utilisation * m.timeMs * streams) / m.completed : 0;
}

/** Whether throughput and p95 are both within ±10 % (the issue's target). */
export function meets(e: EpochRuns): boolean {
  return Math.abs(rel(e.sim.metrics.throughput, e.native.metrics.throughput)) <= 0.1 && Math.abs(rel(e.sim.metrics.p95Ms, e.native.metrics.p95Ms)) <= 0.1;
}

/**
 * Two plots: the main run's latency percentiles on both executors, and p95 on both executors for
 * every run (each calibration and each epoch), so the spread behind the verdict is visible.
 */
export async function simFidelityPlots(r: SimFidelityResult, dir: string): Promise<string[]> {
  const s = r.main.sim.metrics;
  const n = r.main.native.metrics;
  const pctBase = join(dir, 'sim-fidelity-latency');
  await writePlot(
    barChart({
      title: `Request latency, simulator vs native (epoch ${r.main.epochMs} ms)`,
      data: [
        ['p50', s.p50Ms, n.p50Ms],
        ['p95', s.p95Ms, n.p95Ms],
        ['p99', s.p99Ms, n.p99Ms],
        ['mean', s.meanLatencyMs, n.meanLatencyMs],
      ].flatMap(([q, sim, nat]) => [
        { q, executor: 'simulator', ms: sim },
        { q, executor: 'native', ms: nat },
      ]),
      category: { field: 'q', title: 'latency statistic' },
      value: { field: 'ms', title: 'latency (ms)' },
      group: { field: 'executor', title: 'executor' },
    }),
    pctBase,
  );
  const runs: [string, EpochRuns][] = [
    [`cal 1, ${r.main.epochMs} ms`, r.main],
    ...r.recalibrations.map((c, i): [string, EpochRuns] => [`cal ${i + 2}, ${c.runs.epochMs} ms`, c.runs]),
    ...r.sweep.map((x): [string, EpochRuns] => [`cal 1, ${x.epochMs} ms`, x]),
  ];
  const runsBase = join(dir, 'sim-fidelity-p95');
  await writePlot(
    barChart({
      title: 'p95 latency per run, simulator vs native',
      data: runs.flatMap(([run, x]) => [
        { run, executor: 'simulator', ms: x.sim.metrics.p95Ms },
        { run, executor: 'native', ms: x.native.metrics.p95Ms },
      ]),
      category: { field: 'run', title: 'calibration, decision epoch' },
      value: { field: 'ms', title: 'p95 latency (ms)' },
      group: { field: 'executor', title: 'executor' },
    }),
    runsBase,
  );
  return [plotMarkdown('latency percentiles', pctBase), '', plotMarkdown('p95 per run', runsBase), ''];
}

/** The honest paragraph: the known error sources, each with what this run's numbers say about it. */
export function explain(r: SimFidelityResult): string[] {
  const e = r.main;
  const s = e.sim.metrics;
  const n = e.native.metrics;
  const all = [e, ...r.sweep].sort((a, b) => a.epochMs - b.epochMs);
  return [
    meets(e)
      ? 'The target is met on this run; the sources below still bound how far it can be trusted.'
      : 'The target is missed on this run; these are the error sources, with what the numbers say about each.',
    '',
    `- **Throughput is arrival-bound.** Below saturation both executors complete what arrives, and the arrivals are the same (same seed): ${s.completed} vs ${n.completed} requests. The throughput difference is only the requests still queued or in flight when a run stops, so matching throughput says little; latency is the real test.`,
    epochBullet(r, all),
    `- **Calibration vs run-time speed (service time).** Op latencies are medians of back-to-back repeats of each op alone in the profile; in the runs the ops of two models and several requests interleave on two streams (colder caches, per-task allocation and dispatch). Over the whole run the native executor measured ${busyPerRequest(n, r.streams).toFixed(2)} stream-busy ms per request where the simulator charged ${busyPerRequest(s, r.streams).toFixed(2)} (${pct(rel(busyPerRequest(s, r.streams), busyPerRequest(n, r.streams)))}). The t = 0 comparison isolates this (no epochs, no arrivals): makespan ${pct(rel(r.makespan.simMs, r.makespan.nativeMs))}, per-task completion error ${(100 * r.makespan.meanAbsRelError).toFixed(1)} % (per model: ${r.models.map((m, i) => `${m} ${pct(r.t0ErrorByModel[i])}`).join(', ')}). A service-time error is amplified at the tail by queueing: at ${(100 * r.load).toFixed(0)} % load a request at p95 waits behind several others, each of them mis-predicted by the same sign.`,
    interferenceBullet(r),
    `- **Contention model.** It is fitted on pairs of the heaviest ops of one model's concurrent stages (${r.calibration.contention?.source ?? 'none'}); at run time other op pairs co-run, and per-op framework overhead (dispatch, allocation, cross-stream synchronisation) is not in the per-op medians. The fitted α over the calibrations above: ${[r.calibration.contention ?? ROOFLINE_SHARE, ...r.recalibrations.map((c) => c.contention)].map((c) => c.alpha.toFixed(2)).join(', ')}; it depends on the machine's load at profiling time: other jobs competing for the cores during the co-run measurements raise it, and a simulator calibrated on a busy machine then slows every co-running op accordingly.`,
  ];
}

/** Native stream-busy ms per request over the simulator's, minus 1 (> 0: native ops ran slower). */
function serviceInflation(x: EpochRuns, streams: number): number {
  return busyPerRequest(x.native.metrics, streams) / busyPerRequest(x.sim.metrics, streams) - 1;
}

/**
 * The epoch-semantics bullet. The absolute p95 gap across epochs tells overruns apart from a
 * service-time error: the first grows with the overrun fraction, the second stays put in ms (and
 * shrinks in % only because the epoch wait both sides share grows).
 */
function epochBullet(r: SimFidelityResult, all: EpochRuns[]): string {
  const e = r.main;
  const gap = (x: EpochRuns) => x.sim.metrics.p95Ms - x.native.metrics.p95Ms;
  const line = all
    .map(
      (x) =>
        `${x.epochMs} ms: ${x.native.overruns}/${x.native.steps} overran, p95 ${pct(rel(x.sim.metrics.p95Ms, x.native.metrics.p95Ms))} (${gap(x).toFixed(1)} ms), native busy/request ${pct(serviceInflation(x, r.streams))}`,
    )
    .join('; ');
  // Compare the runs with the most and the fewest overruns: a gap that grows with overruns is theirs.
  const frac = (x: EpochRuns) => x.native.overruns / Math.max(1, x.native.steps);
  const byFrac = [...all].sort((a, b) => frac(a) - frac(b));
  const lo = byFrac[0];
  const hi = byFrac[byFrac.length - 1];
  let verdict = '';
  if (all.length >= 2 && Math.abs(gap(hi)) > 1.5 * Math.abs(gap(lo)))
    verdict = `the p95 gap grows with the overrun fraction (${gap(lo).toFixed(1)} ms at ${lo.epochMs} ms, ${gap(hi).toFixed(1)} ms at ${hi.epochMs} ms), so overruns account for part of it.`;
  else if (all.length >= 2)
    verdict = `the run with the fewest overruns (${lo.epochMs} ms, ${lo.native.overruns}/${lo.native.steps}) shows a p95 gap of ${gap(lo).toFixed(1)} ms, no smaller than the run with the most (${hi.epochMs} ms, ${gap(hi).toFixed(1)} ms), so overruns are not the main source; the relative gap changes with the epoch mostly because the epoch wait, which both sides share, changes.`;
  return `- **Epoch semantics (structural).** The native adapter runs each epoch's launches as one native call and ends the epoch only when all of them finish; the simulator lets launches straddle epoch boundaries, so a later epoch's launches start as soon as a stream frees. ${e.native.overruns} of ${e.native.steps} native steps overran the ${e.epochMs} ms epoch (simulator: ${e.sim.overruns}). Across epochs (${line}) ${verdict}`;
}

/** Machine interference: the load average during each native run, and its measured op time per request. */
function interferenceBullet(r: SimFidelityResult): string {
  const runs: [string, EpochRuns][] = [
    ...[r.main, ...r.sweep].map((x): [string, EpochRuns] => [`epoch ${x.epochMs} ms`, x]),
    ...r.recalibrations.map((c, i): [string, EpochRuns] => [`calibration ${i + 2}`, c.runs]),
  ];
  const list = runs
    .map(([name, x]) => `${name}: load ${x.natives.map((n) => n.loadAvg.toFixed(1)).join('/')}, busy/request ${pct(serviceInflation(x, r.streams))}`)
    .join('; ');
  const cores = cpus().length;
  const busy = runs.some(([, x]) => x.natives.some((n) => n.loadAvg > cores + 0.5));
  const infl = runs.map(([, x]) => serviceInflation(x, r.streams));
  return `- **Machine interference.** 1-minute load average at the end of each native run, and native stream-busy ms per request relative to the simulator's: ${list}. ${
    busy
      ? `Loads above the ${cores} cores mean other jobs competed for them. That shows less in op time (busy/request) than in the time stream threads wait for a core between ops, which the profile does not see and which stretches every native epoch; at ${(100 * r.load).toFixed(0)} % load a few stretched epochs build a queue, so p95 reacts far more than throughput. Runs under a high load measure the machine more than the simulator.`
      : `All stayed at or below the ${cores} cores, i.e. the machine was quiet during these runs, so the gap above is not other jobs' doing.${
          Math.max(...infl) - Math.min(...infl) <= 0.05
            ? ` The busy/request excess is about the same in every run (${pct(Math.min(...infl))} to ${pct(Math.max(...infl))}): a systematic service-time error, not noise.`
            : ''
        }`
  }`;
}

/** "a–b" over the load averages of every native run. */
export function loadRange(r: SimFidelityResult): string {
  const loads = [r.main, ...r.sweep, ...r.recalibrations.map((c) => c.runs)].flatMap((x) => x.natives.map((n) => n.loadAvg));
  return `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
}

/** The caveat when the p95 differences sit near the ±10 % line: a rerun may cross it. */
export function borderline(d: number[]): string[] {
  const near = d.some((x) => Math.abs(Math.abs(x) - 0.1) <= 0.05);
  if (!near) return [];
  const sign = d.every((x) => x < 0) ? ' The simulator is optimistic in every row (its p95 below the native one).' : '';
  return [
    `These lie within 5 points of the 10 % line, and calibrations and reruns spread by a few points, so another run may land on the other side: the target is borderline.${sign}`,
  ];
}
