/**
 * The contention model: how much co-running operators slow each other down.
 *
 * Every running op i has a device share u_i ∈ (0, 1] (plan.ts: the fraction of the device's
 * parallel units it can fill). With n ops running and demand D = Σ u_i, every op progresses at
 * rate 1 / s, its alone-latency work shrinking at that rate (processor sharing), where
 *
 *     s = max(1, D)^β · (1 + α · (n − 1))
 *
 *  - max(1, D)^β: while the ops together fit on the device (D ≤ 1) they run at full speed; beyond
 *    it they share the units. β = 1 is exact time-sharing of the units — the roofline "area" bound
 *    that RooflineCostModel.stageLatency uses for a stage's concurrent groups.
 *  - (1 + α(n − 1)): interference that is not about units (shared L2, memory bandwidth, scheduler)
 *    for each extra op running at the same time.
 *
 * Fallback (no profile): β = 1, α = 0 — the roofline share model, nothing assumed beyond it.
 * Fit (a profile with co-run pairs — our own format, or the native profiler's documents through
 * `contentionFromProfiles`): each pair gives, for both ops, the slowdown measured when run
 * together; with n = 2 the model reads log s = β · log max(1, u_a + u_b) + log(1 + α), linear in
 * (β, log(1+α)); least squares over all samples, clamped to β ≥ 0, α ≥ 0. When no pair overflows
 * the device (all D ≤ 1) β cannot be identified and stays 1.
 *
 * MPS mode adds per-client caps (modes.ts): client c's ops share cap_c of the device, so its
 * demand term is max(1, D_c / cap_c)^β, and clients together are bounded by the whole device.
 */
import type { ProfileDocument } from '../../graphs/cost/profiled.js';
import type { DeviceSpec } from '../../graphs/cost/roofline.js';
import { withBatch } from '../../graphs/infer.js';
import { type Graph, numel } from '../../graphs/ir.js';
import { EnvError } from '../core.js';
import { opShare } from './plan.js';

export interface ContentionParams {
  alpha: number;
  beta: number;
  /** 'roofline-share' (the fallback) or 'fit:<n> pairs'. */
  source: string;
  /** Fit quality: root-mean-square of log-slowdown residuals (0 for the fallback). */
  rmsLogError: number;
}

export const ROOFLINE_SHARE: ContentionParams = { alpha: 0, beta: 1, source: 'roofline-share', rmsLogError: 0 };

/** One op of a measured co-run pair. */
export interface CoRunOp {
  /** Device share of the op (see plan.ts opShare). */
  share: number;
  /** Latency alone, ms. */
  aloneMs: number;
  /** Latency while the other op of the pair runs, ms. */
  corunMs: number;
}

export interface ContentionProfile {
  format: 'topsched.contention/1';
  /** The device the pairs were measured on. */
  device: string;
  pairs: { a: CoRunOp; b: CoRunOp; label?: string }[];
}

function checkOp(op: CoRunOp, where: string): void {
  for (const k of ['share', 'aloneMs', 'corunMs'] as const) {
    const v = op?.[k];
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new EnvError(`${k} must be a positive number, got ${JSON.stringify(v)}`, where);
  }
  if (op.share > 1) throw new EnvError(`share must be in (0, 1], got ${op.share}`, where);
}

/** Least-squares fit of (α, β) to a profile's co-run pairs (see the file comment). */
export function fitContention(profile: ContentionProfile, where = 'contention profile'): ContentionParams {
  if (profile?.format !== 'topsched.contention/1') throw new EnvError(`expected format 'topsched.contention/1', got ${JSON.stringify(profile?.format)}`, where);
  if (!Array.isArray(profile.pairs) || profile.pairs.length === 0) throw new EnvError('needs at least one co-run pair', where);
  const xs: number[] = [];
  const ys: number[] = [];
  profile.pairs.forEach((p, i) => {
    checkOp(p.a, `${where}: pairs[${i}].a`);
    checkOp(p.b, `${where}: pairs[${i}].b`);
    const x = Math.log(Math.max(1, p.a.share + p.b.share));
    for (const op of [p.a, p.b]) {
      xs.push(x);
      // A measured speed-up under co-run is noise: slowdowns below 1 count as 1.
      ys.push(Math.log(Math.max(1, op.corunMs / op.aloneMs)));
    }
  });
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
  }
  let beta: number;
  let c: number;
  if (sxx < 1e-12) {
    // No spread in demand: β is unidentifiable; keep time-sharing and fit the interference alone.
    beta = 1;
    c = my - beta * mx;
  } else {
    beta = Math.max(0, sxy / sxx);
    c = my - beta * mx;
  }
  c = Math.max(0, c);
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - (beta * xs[i] + c)) ** 2;
  return { alpha: Math.expm1(c), beta, source: `fit:${profile.pairs.length} pairs (${profile.device})`, rmsLogError: Math.sqrt(sse / n) };
}

/** The slowdown of every op when `n` ops with total demand `demand` run (streams / contexts modes). */
export function slowdown(p: ContentionParams, n: number, demand: number): number {
  const d = demand > 1 ? (p.beta === 1 ? demand : demand ** p.beta) : 1;
  return n > 1 ? d * (1 + p.alpha * (n - 1)) : d;
}

/**
 * Co-run pairs measured by the native profiler (`topsched.profile/1` documents, native/profile.ts)
 * as a contention profile: each pair's ops are looked up in their model's graph (at the profiled
 * batch) to get their device shares. A pair naming a node the graph lacks is an error.
 */
export function contentionFromProfiles(docs: readonly ProfileDocument[], graphs: ReadonlyMap<string, Graph>, device: DeviceSpec): ContentionProfile {
  const pairs: ContentionProfile['pairs'] = [];
  docs.forEach((doc, i) => {
    const where = `contention profile ${i} ('${doc.model}' batch ${doc.batch})`;
    const base = graphs.get(doc.model);
    if (!base) throw new EnvError(`model '${doc.model}' is not in the env (models: ${[...graphs.keys()].join(', ')})`, where);
    const g = base.batch === doc.batch ? base : withBatch(base, doc.batch);
    const nodes = new Map(g.nodes.map((n) => [n.id, n]));
    const share = (id: string) => {
      const n = nodes.get(id);
      if (!n) throw new EnvError(`pair names node '${id}', not a node of '${doc.model}'`, where);
      return opShare(
        n.outShapes.reduce((s, sh) => s + numel(sh), 0),
        device,
      );
    };
    for (const p of doc.pairs) {
      pairs.push({
        label: `${doc.model}:${p.a}|${p.b}`,
        a: { share: share(p.a), aloneMs: p.aloneMs[0], corunMs: p.corunMs[0] },
        b: { share: share(p.b), aloneMs: p.aloneMs[1], corunMs: p.corunMs[1] },
      });
    }
  });
  return {
    format: 'topsched.contention/1',
    device:
      docs
        .map((d) => d.device.name)
        .filter((x, k, a) => a.indexOf(x) === k)
        .join(', ') || device.name,
    pairs,
  };
}
