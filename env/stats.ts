/** Summary statistics shared by the validators, benchmarks and experiments. */
import { makeRng } from './spaces.js';

/** Middle value (mean of the two middle values for an even count); throws on no samples. */
export function median(xs: number[]): number {
  if (!xs.length) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Arithmetic mean; 0 for no values. */
export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** Sample standard deviation (n − 1); 0 for fewer than two values. */
export function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** A mean with its 95 % confidence interval. */
export interface Interval {
  mean: number;
  ci95: [number, number];
}

/** The q-quantile of sorted values (linear interpolation). */
export function quantileSorted(s: Float64Array, q: number): number {
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * Percentile-bootstrap 95 % interval of `stat` over resamples (with replacement) of the indices
 * 0..n−1; seeded, so the same data give the same interval.
 */
export function bootstrap(n: number, stat: (idx: Int32Array) => number, opts: { resamples?: number; seed?: number | string } = {}): [number, number] {
  if (n < 1) return [Number.NaN, Number.NaN];
  const R = opts.resamples ?? 2000;
  const rng = makeRng(`bootstrap:${opts.seed ?? 0}`);
  const idx = new Int32Array(n);
  const out = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
    out[r] = stat(idx);
  }
  out.sort();
  return [quantileSorted(out, 0.025), quantileSorted(out, 0.975)];
}

/** Mean of `xs` and its bootstrap 95 % interval. */
export function meanInterval(xs: readonly number[], seed: number | string = 0): Interval {
  const m = mean([...xs]);
  if (xs.length < 2) return { mean: m, ci95: [m, m] };
  return {
    mean: m,
    ci95: bootstrap(
      xs.length,
      (idx) => {
        let s = 0;
        for (const i of idx) s += xs[i];
        return s / idx.length;
      },
      { seed },
    ),
  };
}

/**
 * Ratio of means a/b for paired samples (the same evaluation seeds), with the bootstrap interval
 * that resamples the pairs together — the comparison of two policies on shared episodes.
 */
export function pairedRatio(a: readonly number[], b: readonly number[], seed: number | string = 0): Interval {
  if (a.length !== b.length) throw new Error(`paired ratio: ${a.length} vs ${b.length} samples`);
  const ratio = (idx: ArrayLike<number>) => {
    let sa = 0;
    let sb = 0;
    for (let k = 0; k < idx.length; k++) {
      sa += a[idx[k]];
      sb += b[idx[k]];
    }
    return sb > 0 ? sa / sb : Number.NaN;
  };
  const all = Int32Array.from(a, (_, i) => i);
  const r = ratio(all);
  if (a.length < 2) return { mean: r, ci95: [r, r] };
  return { mean: r, ci95: bootstrap(a.length, ratio, { seed }) };
}
