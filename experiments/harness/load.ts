/**
 * Loads as fractions of a calibrated capacity. A workload file fixes the *shape* of its arrivals
 * (which models, their shares, bursts, ramps, a real trace); `atLoad` rescales every rate so the
 * workload's mean total rate is `load × capacity`. The capacity of a model mix is measured, not
 * assumed: the completed requests/s of the mix under heavy Poisson overload with every request
 * released at the largest batch (the device's saturated service rate for that mix).
 */
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import { greedyReleasePolicy } from '../../env/policies.js';
import { makeArrivals, parseWorkload, type Workload, type WorkloadModel } from '../../env/workload.js';
import { runEpisode } from './episode.js';

type Arrival = WorkloadModel['arrival'];

function scaleArrival(a: Arrival, f: number): Arrival {
  switch (a.kind) {
    case 'poisson':
      return { ...a, rate: a.rate * f };
    case 'mmpp':
      return { ...a, rates: [a.rates[0] * f, a.rates[1] * f] };
    case 'diurnal':
      return { ...a, mean: a.mean * f };
    case 'piecewise':
      return { ...a, segments: a.segments.map((s) => ({ ...s, rate: s.rate * f })) };
    case 'replay':
      return { ...a, rate: a.rate * f };
    case 'trace':
      throw new Error(`a 'trace' arrival replays fixed rows and cannot be rescaled; use kind 'replay' for a log rescaled to a load`);
  }
}

/** Mean total arrival rate of a workload, requests/s. */
export function meanTotalRate(w: Workload): number {
  return makeArrivals(w).reduce((s, a) => s + a.meanRate(), 0);
}

/** Each model's share of the mean total rate. */
export function shares(w: Workload): number[] {
  const rates = makeArrivals(w).map((a) => a.meanRate());
  const total = rates.reduce((a, b) => a + b, 0);
  return rates.map((r) => r / total);
}

/** The workload with every rate multiplied so that its mean total rate is `totalRate`. */
export function atTotalRate(w: Workload, totalRate: number, name = `${w.name}@${totalRate.toFixed(0)}`): Workload {
  const f = totalRate / meanTotalRate(w);
  return parseWorkload({ name, models: w.models.map((m) => ({ ...m, arrival: scaleArrival(m.arrival, f) })) }, name, w.baseDir);
}

/** Poisson arrivals with the workload's model shares at `totalRate` (what capacity and rate tables use). */
export function poissonMix(w: Workload, totalRate: number, name = `${w.name}-poisson@${totalRate.toFixed(0)}`): Workload {
  const s = shares(w);
  return parseWorkload({ name, models: w.models.map((m, i) => ({ ...m, arrival: { kind: 'poisson', rate: s[i] * totalRate } })) }, name, w.baseDir);
}

/**
 * Calibrated capacity of the workload's model mix on the env's device: the highest offered rate of
 * Poisson arrivals (with the mix's shares) that greedy release at the largest batch still serves —
 * completing at least 95 % of what arrives — found by a geometric sweep (×1.15 per probe) from a
 * rough estimate out of the alone latencies. Past it queues grow without bound (and, with device
 * memory modelled, oversubscription makes things worse), so loads are quoted against this knee.
 */
export async function calibrateCapacity(base: AsyncInferenceOptions, w: Workload, o: { episodes?: number; steps?: number } = {}): Promise<number> {
  const probe = new AsyncInferenceEnv({ ...base, workload: poissonMix(w, 1) });
  const v = probe.view();
  const s = shares(w);
  const bMax = v.batchSizes[v.batchSizes.length - 1];
  // Seconds of device time per request of the mix at the largest batch, over the stream slots.
  let secPerReq = 0;
  v.models.forEach((m, i) => {
    secPerReq += (s[i] * v.aloneMs(i, m.schedules.length - 1, bMax)) / bMax / 1000;
  });
  const rough = probe.executor.streamSlots / Math.max(secPerReq, 1e-9);
  probe.close();
  const served = async (rate: number): Promise<boolean> => {
    const env = new AsyncInferenceEnv({ ...base, maxSteps: o.steps ?? 1000, workload: poissonMix(w, rate) });
    try {
      const p = greedyReleasePolicy(env);
      let arrived = 0;
      let completed = 0;
      for (let e = 0; e < (o.episodes ?? 2); e++) {
        const r = await runEpisode(env, p, { seed: 9_000_000 + e, seriesEveryMs: 0 });
        arrived += r.arrived;
        completed += r.completed;
      }
      return completed >= 0.95 * arrived;
    } finally {
      env.close();
    }
  };
  let rate = rough / 16;
  if (!(await served(rate))) throw new Error(`capacity of '${w.name}': not even ${rate.toFixed(1)} req/s is served; check the models and the device`);
  for (let k = 0; k < 60 && (await served(rate * 1.15)); k++) rate *= 1.15;
  return rate;
}
