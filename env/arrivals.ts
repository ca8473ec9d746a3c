/**
 * Request arrival processes, one per model of a workload. Each is a seeded generator of arrival
 * events: `next()` advances to the next event and returns its time in seconds (+Infinity when the
 * process has no more), with `count` requests arriving at that instant (1, except for traces).
 *
 *  - poisson:  exponential inter-arrival times with rate λ (req/s).
 *  - mmpp:     a two-state Markov-modulated Poisson process (bursty traffic): in state i requests
 *              arrive at rate λ_i and the state flips at rate σ_i (1/s). The first state is drawn
 *              from the stationary law π_0 = σ_1 / (σ_0 + σ_1). Mean rate π_0 λ_0 + π_1 λ_1.
 *  - diurnal:  a non-homogeneous Poisson process with λ(t) = mean · (1 + amplitude · sin(2π t /
 *              period + phase)), drawn by thinning (Lewis & Shedler 1979) under λ_max = mean(1+amp).
 *  - trace:    replays rows (time_s, model, batch) of a CSV file; `batch` requests arrive at time_s.
 *  - piecewise: Poisson with a rate constant per segment (flash crowds, popularity shifts, ramps).
 *  - replay:   a real request log (e.g. the Azure LLM traces) rescaled to a target mean rate.
 *
 * Everything random comes from the RNG handed to `reset`, so a seed fixes the whole sequence.
 */
import { readTextBounded } from '../graphs/limits.js';
import { EnvError } from './core.js';
import type { Rng } from './spaces.js';

export interface ArrivalProcess {
  readonly kind: string;
  /**
   * Restart at t = 0 drawing from `rng`. `episodeSeed` is the env's reset seed, the same for every
   * model of a workload (a replay picks its starting point from it).
   */
  reset(rng: Rng, episodeSeed?: string | number): void;
  /** Advances to the next arrival event: its time in seconds, or +Infinity when none is left. */
  next(): number;
  /** Requests arriving at the event `next()` last returned. */
  count: number;
  /** Long-run mean rate, requests/s (used to scale observations). */
  meanRate(): number;
}

/** An exponential draw with rate `rate` (1/s); +Infinity for a zero rate. */
function exp(rng: Rng, rate: number): number {
  return rate > 0 ? -Math.log(1 - rng()) / rate : Number.POSITIVE_INFINITY;
}

const notReset = (): number => {
  throw new EnvError('arrival process used before reset(rng)');
};

export class PoissonArrivals implements ArrivalProcess {
  readonly kind = 'poisson';
  count = 1;
  private t = 0;
  private rng: Rng = notReset;

  constructor(readonly rate: number) {}

  reset(rng: Rng): void {
    this.rng = rng;
    this.t = 0;
  }

  next(): number {
    this.t += exp(this.rng, this.rate);
    return this.t;
  }

  meanRate(): number {
    return this.rate;
  }
}

export class MmppArrivals implements ArrivalProcess {
  readonly kind = 'mmpp';
  count = 1;
  private t = 0;
  private state = 0;
  private rng: Rng = notReset;

  /** `rates[i]`: arrivals/s in state i; `switching[i]`: rate (1/s) of leaving state i. */
  constructor(
    readonly rates: readonly [number, number],
    readonly switching: readonly [number, number],
  ) {}

  private pi0(): number {
    const [s0, s1] = this.switching;
    return s0 + s1 > 0 ? s1 / (s0 + s1) : 1;
  }

  reset(rng: Rng): void {
    this.rng = rng;
    this.t = 0;
    this.state = rng() < this.pi0() ? 0 : 1;
  }

  next(): number {
    // Competing exponentials: the next event (arrival or switch) comes at total rate λ_i + σ_i.
    for (;;) {
      const lam = this.rates[this.state];
      const sig = this.switching[this.state];
      const total = lam + sig;
      if (!(total > 0)) return (this.t = Number.POSITIVE_INFINITY);
      this.t += exp(this.rng, total);
      if (this.rng() * total < lam) return this.t;
      this.state = 1 - this.state;
    }
  }

  meanRate(): number {
    const p = this.pi0();
    return p * this.rates[0] + (1 - p) * this.rates[1];
  }
}

export class DiurnalArrivals implements ArrivalProcess {
  readonly kind = 'diurnal';
  count = 1;
  private t = 0;
  private rng: Rng = notReset;

  constructor(
    readonly mean: number,
    readonly amplitude: number,
    readonly periodS: number,
    readonly phase = 0,
  ) {}

  rateAt(t: number): number {
    return this.mean * (1 + this.amplitude * Math.sin((2 * Math.PI * t) / this.periodS + this.phase));
  }

  reset(rng: Rng): void {
    this.rng = rng;
    this.t = 0;
  }

  next(): number {
    const max = this.mean * (1 + this.amplitude);
    if (!(max > 0)) return (this.t = Number.POSITIVE_INFINITY);
    for (;;) {
      this.t += exp(this.rng, max);
      if (this.rng() * max < this.rateAt(this.t)) return this.t;
    }
  }

  meanRate(): number {
    return this.mean;
  }
}

export interface TraceRow {
  timeS: number;
  model: string;
  batch: number;
  /** Where the row came from (`file:line`), for error messages. */
  at: string;
}

/**
 * Parses a trace CSV: `time_s,model,batch` per line, an optional header line, `#` comments.
 * Errors name the file and line.
 */
export function parseTraceCsv(text: string, where = 'trace CSV'): TraceRow[] {
  const rows: TraceRow[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    if (i === 0 && cells[0] === 'time_s') {
      if (cells.join(',') !== 'time_s,model,batch') throw new EnvError(`header must be 'time_s,model,batch', got '${line}'`, `${where}:1`);
      return;
    }
    const at = `${where}:${i + 1}`;
    if (cells.length !== 3) throw new EnvError(`expected 3 fields (time_s,model,batch), got ${cells.length}: '${line}'`, at);
    const timeS = Number(cells[0]);
    const batch = Number(cells[2]);
    if (!cells[0] || !Number.isFinite(timeS) || timeS < 0) throw new EnvError(`time_s must be a non-negative number, got '${cells[0]}'`, at);
    if (!cells[1]) throw new EnvError('model is empty', at);
    if (!Number.isInteger(batch) || batch < 1) throw new EnvError(`batch must be a positive integer, got '${cells[2]}'`, at);
    rows.push({ timeS, model: cells[1], batch, at });
  });
  // A stable sort keeps same-time rows in file order.
  return rows
    .map((r, k) => ({ r, k }))
    .sort((x, y) => x.r.timeS - y.r.timeS || x.k - y.k)
    .map((x) => x.r);
}

export function loadTraceCsv(path: string): TraceRow[] {
  return parseTraceCsv(readTextBounded(path, 'trace'), path);
}

/** Replays the rows of one model; `offsetS` shifts the trace, `loop` repeats it end to end. */
export class TraceArrivals implements ArrivalProcess {
  readonly kind = 'trace';
  count = 1;
  private i = 0;
  private lap = 0;
  private readonly times: Float64Array;
  private readonly batches: Int32Array;
  private readonly span: number;

  constructor(
    rows: readonly TraceRow[],
    readonly loop = false,
    readonly offsetS = 0,
  ) {
    this.times = Float64Array.from(rows, (r) => r.timeS);
    this.batches = Int32Array.from(rows, (r) => r.batch);
    // A looped trace repeats after its last row plus one mean gap, so laps do not collide.
    const n = rows.length;
    const last = n ? this.times[n - 1] : 0;
    this.span = n > 1 ? last + last / (n - 1) : last + 1;
  }

  reset(_rng: Rng): void {
    this.i = 0;
    this.lap = 0;
  }

  next(): number {
    if (this.i >= this.times.length) {
      if (!this.loop || !this.times.length) return Number.POSITIVE_INFINITY;
      this.i = 0;
      this.lap++;
    }
    this.count = this.batches[this.i];
    return this.offsetS + this.lap * this.span + this.times[this.i++];
  }

  meanRate(): number {
    let total = 0;
    for (const b of this.batches) total += b;
    return this.span > 0 ? total / this.span : 0;
  }
}

/**
 * A Poisson process whose rate is constant within each segment: `segments[i]` lasts `durationS`
 * at `rate` req/s; after the last segment the last rate holds (or the schedule repeats with
 * `loop`). Exact, not thinned: an exponential draw that crosses a boundary restarts there (the
 * process is memoryless). Flash crowds, popularity shifts and ramps are segment lists.
 */
export class PiecewiseArrivals implements ArrivalProcess {
  readonly kind = 'piecewise';
  count = 1;
  private t = 0;
  private rng: Rng = notReset;
  private readonly ends: Float64Array;
  private readonly period: number;

  constructor(
    readonly segments: readonly { durationS: number; rate: number }[],
    readonly loop = false,
  ) {
    if (!segments.length) throw new EnvError('piecewise arrivals need at least one segment');
    let end = 0;
    this.ends = Float64Array.from(segments, (s) => (end += s.durationS));
    this.period = end;
  }

  /** The segment index at time t (after the schedule: the last one, or wrapped when looping). */
  private segmentAt(t: number): { i: number; end: number } {
    const lap = this.loop && this.period > 0 ? Math.floor(t / this.period) : 0;
    const local = t - lap * this.period;
    for (let i = 0; i < this.ends.length; i++) if (local < this.ends[i]) return { i, end: lap * this.period + this.ends[i] };
    return this.loop ? { i: 0, end: (lap + 1) * this.period + this.ends[0] } : { i: this.ends.length - 1, end: Number.POSITIVE_INFINITY };
  }

  rateAt(t: number): number {
    return this.segments[this.segmentAt(t).i].rate;
  }

  reset(rng: Rng): void {
    this.rng = rng;
    this.t = 0;
  }

  next(): number {
    for (let guard = 0; guard < 1_000_000; guard++) {
      const { i, end } = this.segmentAt(this.t);
      const dt = exp(this.rng, this.segments[i].rate);
      if (this.t + dt < end) return (this.t += dt);
      if (end === Number.POSITIVE_INFINITY) return (this.t = Number.POSITIVE_INFINITY);
      this.t = end;
    }
    return (this.t = Number.POSITIVE_INFINITY);
  }

  meanRate(): number {
    let n = 0;
    for (const s of this.segments) n += s.durationS * s.rate;
    return this.period > 0 ? n / this.period : this.segments[0].rate;
  }
}

/**
 * Arrival times (seconds from the first request) of a real request log with a `TIMESTAMP` column
 * (`YYYY-MM-DD HH:MM:SS[.fffffff]`, as in the Azure LLM inference traces); other columns are
 * ignored. Errors name the file and line.
 */
export function parseTimestampLog(text: string, where = 'request log'): Float64Array {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((c) => c.trim());
  const col = header.indexOf('TIMESTAMP');
  if (col < 0) throw new EnvError(`the header must have a TIMESTAMP column, got '${lines[0] ?? ''}'`, `${where}:1`);
  const times: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const cell = line.split(',')[col]?.trim() ?? '';
    const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?$/.exec(cell);
    if (!m) throw new EnvError(`TIMESTAMP must look like 2023-11-16 18:17:03.97996, got '${cell}'`, `${where}:${i + 1}`);
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    const back = new Date(ms);
    // Date.UTC rolls 25:99 over into the next day; a real timestamp round-trips field by field.
    if (
      !Number.isFinite(ms) ||
      back.getUTCMonth() !== +m[2] - 1 ||
      back.getUTCDate() !== +m[3] ||
      back.getUTCHours() !== +m[4] ||
      back.getUTCMinutes() !== +m[5] ||
      back.getUTCSeconds() !== +m[6]
    )
      throw new EnvError(`TIMESTAMP '${cell}' is not a valid date`, `${where}:${i + 1}`);
    times.push(ms / 1000 + (m[7] ? Number(m[7]) : 0));
  }
  if (times.length < 2) throw new EnvError(`needs at least two requests, got ${times.length}`, where);
  times.sort((a, b) => a - b);
  const t0 = times[0];
  return Float64Array.from(times, (t) => t - t0);
}

/** FNV-1a of a string → [0, 1): a seeded choice that every model of a workload makes alike. */
function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

/**
 * Replays a real request log rescaled in time, for one model of a workload. The log's timestamps
 * are compressed or stretched so that its mean rate becomes `rate / keep`; each request then goes
 * to this model with probability `keep`, an independent seeded draw per model (so the models of a
 * workload see one burst pattern, split by their shares). Each episode starts at a point of the log
 * chosen from the episode seed (the same for every model of the workload) and wraps around at its
 * end, so evaluation episodes see different stretches of the same real process.
 */
export class ReplayArrivals implements ArrivalProcess {
  readonly kind = 'replay';
  count = 1;
  private rng: Rng = notReset;
  private i = 0;
  private lap = 0;
  private start = 0;
  private readonly scaled: Float64Array;
  private readonly span: number;

  constructor(
    times: Float64Array,
    readonly rate: number,
    readonly keep = 1,
    readonly label = 'replay',
  ) {
    const n = times.length;
    const logSpan = times[n - 1] + times[n - 1] / (n - 1);
    // The log's mean rate n / logSpan becomes rate / keep.
    const factor = rate > 0 ? n / logSpan / (rate / keep) : 1;
    this.scaled = Float64Array.from(times, (t) => t * factor);
    this.span = logSpan * factor;
  }

  reset(rng: Rng, episodeSeed: string | number = 0): void {
    this.rng = rng;
    this.lap = 0;
    // The same start for every model of the workload: a hash of the episode seed and the log.
    const at = unitHash(`${episodeSeed}:${this.label}`) * this.span;
    let lo = 0;
    let hi = this.scaled.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.scaled[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    this.i = lo;
    this.start = at;
  }

  next(): number {
    if (!(this.rate > 0)) return Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.i >= this.scaled.length) {
        this.i = 0;
        this.lap++;
      }
      const t = this.lap * this.span + this.scaled[this.i++] - this.start;
      if (this.keep >= 1 || this.rng() < this.keep) return t;
    }
  }

  meanRate(): number {
    return this.rate;
  }
}
