/**
 * Episode metrics: request latency quantiles from a log-bucketed histogram (1 % relative
 * resolution, constant memory, O(buckets) per quantile query — an episode may complete millions of
 * requests, so we never keep or sort them), plus per-model counters (EpisodeCounters) for
 * throughput, drops and SLO attainment.
 */

const MIN_MS = 1e-3;
const MAX_MS = 1e7;
const GROWTH = 1.01;
const LOG_G = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_G) + 2;
/** The quantiles every metrics() reports. */
const QS = [0.5, 0.9, 0.95, 0.99] as const;

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  total = 0;
  sum = 0;
  max = 0;
  /** Lowest and highest bucket in use: queries scan only this range (quantiles are read every step). */
  private lo = BUCKETS;
  private hi = -1;

  clear(): void {
    this.counts.fill(0);
    this.lo = BUCKETS;
    this.hi = -1;
    this.total = 0;
    this.sum = 0;
    this.max = 0;
  }

  add(ms: number, count = 1): void {
    const v = Math.max(ms, MIN_MS);
    let b = 1 + Math.floor(Math.log(v / MIN_MS) / LOG_G);
    if (ms <= MIN_MS) b = 0;
    if (b >= BUCKETS) b = BUCKETS - 1;
    this.counts[b] += count;
    if (b < this.lo) this.lo = b;
    if (b > this.hi) this.hi = b;
    this.total += count;
    this.sum += ms * count;
    if (ms > this.max) this.max = ms;
  }

  mean(): number {
    return this.total ? this.sum / this.total : 0;
  }

  /** The q-quantile (0 < q ≤ 1), ms, within 1 %; 0 when empty. */
  quantile(q: number): number {
    return this.quantiles([q])[0];
  }

  /** Several quantiles (ascending q) in one pass over the buckets in use. */
  quantiles(qs: readonly number[]): number[] {
    const out = new Array<number>(qs.length).fill(0);
    if (!this.total) return out;
    let acc = 0;
    let k = 0;
    for (let b = this.lo; b <= this.hi && k < qs.length; b++) {
      acc += this.counts[b];
      while (k < qs.length && acc >= qs[k] * this.total) {
        // Geometric middle of bucket b: [MIN·G^(b-1), MIN·G^b).
        out[k++] = b === 0 ? MIN_MS : Math.min(MIN_MS * GROWTH ** (b - 0.5), this.max);
      }
    }
    for (; k < qs.length; k++) out[k] = this.max;
    return out;
  }
}

export interface ModelMetrics {
  name: string;
  /** Requests completed per second of env time, over the measurement window. */
  throughput: number;
  /** Requests completed within their SLO per second (Triton's "goodput"). */
  goodput: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** 1 − violations ÷ (completed + dropped): the fraction of judged requests that met the SLO. */
  sloAttainment: number;
  /** Completions within the SLO ÷ arrivals in the window (requests still waiting count as misses). */
  attainment: number;
  /** Mean time from arrival to launch (in the env's queue), ms. */
  meanQueueMs: number;
  /** Mean time from launch to completion (on the device, batching included), ms. */
  meanComputeMs: number;
  queue: number;
  inFlight: number;
  arrived: number;
  completed: number;
  dropped: number;
}

export interface EnvMetrics {
  /** Env time since reset, ms. */
  timeMs: number;
  /** Env time the measurement window began (0, or the end of a warm-up), ms. */
  windowStartMs: number;
  /** Requests completed within their SLO per second, over the window. */
  goodput: number;
  /** Completions within the SLO ÷ arrivals, over the window. */
  attainment: number;
  p90Ms: number;
  meanQueueMs: number;
  meanComputeMs: number;
  /** Requests completed per second, whole episode. */
  throughput: number;
  /** Requests completed per second during the last step. */
  stepThroughput: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanLatencyMs: number;
  /** Requests waiting in queues now. */
  backlog: number;
  /** Requests in the system now: waiting plus in flight (the reward's backlog). */
  inSystem: number;
  /** Mean busy fraction of the streams over the episode. */
  utilisation: number;
  /** Fraction of finished-or-dropped requests that met their SLO. */
  sloAttainment: number;
  arrived: number;
  completed: number;
  dropped: number;
  violations: number;
  /** Device memory in use over capacity (above 1: oversubscribed). */
  memory: number;
  models: ModelMetrics[];
}

/** What the counters cannot know by themselves: the live state of queues, executor and clock. */
export interface MetricsContext {
  nowMs: number;
  lastDtMs: number;
  names: readonly string[];
  queueLength(model: number): number;
  inFlight(model: number): number;
  /** Requests waiting plus in flight. */
  inSystem: number;
  /** Cumulative busy ms of every stream slot. */
  streamBusyMs: Float64Array;
  memoryFraction: number;
}

/** Per-model request counters of an episode and of the current step, plus latency histograms. */
export class EpisodeCounters {
  readonly hist = new LatencyHistogram();
  readonly modelHist: LatencyHistogram[];
  readonly arrived: Float64Array;
  readonly completed: Float64Array;
  readonly dropped: Float64Array;
  readonly violations: Float64Array;
  readonly stepCompleted: Float64Array;
  readonly stepDropped: Float64Array;
  readonly stepViolations: Float64Array;
  /** Per-model latency EWMA, ms (weight `ewma` on each completed launch's mean). */
  readonly latEwma: Float64Array;
  /** Completions within the SLO, and queue / compute ms summed over completed requests. */
  readonly good: Float64Array;
  readonly queueMs: Float64Array;
  readonly computeMs: Float64Array;
  /** Where the measurement window began (counters count from there). */
  windowStartMs = 0;

  constructor(
    readonly models: number,
    readonly ewma = 0.2,
  ) {
    this.modelHist = Array.from({ length: models }, () => new LatencyHistogram());
    this.arrived = new Float64Array(models);
    this.completed = new Float64Array(models);
    this.dropped = new Float64Array(models);
    this.violations = new Float64Array(models);
    this.stepCompleted = new Float64Array(models);
    this.stepDropped = new Float64Array(models);
    this.stepViolations = new Float64Array(models);
    this.latEwma = new Float64Array(models);
    this.good = new Float64Array(models);
    this.queueMs = new Float64Array(models);
    this.computeMs = new Float64Array(models);
  }

  reset(): void {
    this.clearWindow(0);
    this.latEwma.fill(0);
    this.beginStep();
  }

  /**
   * Starts the measurement window at `nowMs` (the end of a warm-up): request counters and latency
   * histograms start over; the env's state (queues, launches in flight, the latency EWMA the
   * observations use) is untouched. Requests that arrived before and finish after count as
   * completions of the window.
   */
  clearWindow(nowMs: number): void {
    this.windowStartMs = nowMs;
    this.hist.clear();
    for (const h of this.modelHist) h.clear();
    for (const a of [this.arrived, this.completed, this.dropped, this.violations, this.good, this.queueMs, this.computeMs]) a.fill(0);
  }

  beginStep(): void {
    this.stepCompleted.fill(0);
    this.stepDropped.fill(0);
    this.stepViolations.fill(0);
  }

  /** A request arrived; `queued` false when its queue was full (dropped, an SLO violation). */
  arrival(m: number, queued: boolean): void {
    this.arrived[m]++;
    if (!queued) {
      this.dropped[m]++;
      this.stepDropped[m]++;
      this.violations[m]++;
      this.stepViolations[m]++;
    }
  }

  /** A launch of model m, submitted at `submitMs`, finished at `finishMs`; its requests arrived at `arrivals`. */
  launchDone(m: number, arrivals: Float64Array, submitMs: number, finishMs: number, sloMs: number): void {
    let sum = 0;
    for (let j = 0; j < arrivals.length; j++) {
      const lat = finishMs - arrivals[j];
      sum += lat;
      this.hist.add(lat);
      this.modelHist[m].add(lat);
      this.queueMs[m] += submitMs - arrivals[j];
      if (lat > sloMs) {
        this.violations[m]++;
        this.stepViolations[m]++;
      } else this.good[m]++;
    }
    this.computeMs[m] += (finishMs - submitMs) * arrivals.length;
    this.completed[m] += arrivals.length;
    this.stepCompleted[m] += arrivals.length;
    const mean = sum / arrivals.length;
    this.latEwma[m] = this.latEwma[m] === 0 ? mean : (1 - this.ewma) * this.latEwma[m] + this.ewma * mean;
  }

  stepTotals(): { completed: number; violations: number } {
    let completed = 0;
    let violations = 0;
    for (let m = 0; m < this.models; m++) {
      completed += this.stepCompleted[m];
      violations += this.stepViolations[m];
    }
    return { completed, violations };
  }

  metrics(c: MetricsContext): EnvMetrics {
    const sec = (c.nowMs - this.windowStartMs) / 1000;
    let arrived = 0;
    let completed = 0;
    let dropped = 0;
    let violations = 0;
    let good = 0;
    let queueMs = 0;
    let computeMs = 0;
    let stepCompleted = 0;
    let backlog = 0;
    const models: ModelMetrics[] = c.names.map((name, i) => {
      arrived += this.arrived[i];
      completed += this.completed[i];
      dropped += this.dropped[i];
      violations += this.violations[i];
      good += this.good[i];
      queueMs += this.queueMs[i];
      computeMs += this.computeMs[i];
      stepCompleted += this.stepCompleted[i];
      backlog += c.queueLength(i);
      const judged = this.completed[i] + this.dropped[i];
      const [p50Ms, p90Ms, p95Ms, p99Ms] = this.modelHist[i].quantiles(QS);
      return {
        name,
        throughput: sec > 0 ? this.completed[i] / sec : 0,
        goodput: sec > 0 ? this.good[i] / sec : 0,
        p50Ms,
        p90Ms,
        p95Ms,
        p99Ms,
        sloAttainment: judged ? 1 - this.violations[i] / judged : 1,
        attainment: this.arrived[i] ? Math.min(1, this.good[i] / this.arrived[i]) : 1,
        meanQueueMs: this.completed[i] ? this.queueMs[i] / this.completed[i] : 0,
        meanComputeMs: this.completed[i] ? this.computeMs[i] / this.completed[i] : 0,
        queue: c.queueLength(i),
        inFlight: c.inFlight(i),
        arrived: this.arrived[i],
        completed: this.completed[i],
        dropped: this.dropped[i],
      };
    });
    let busy = 0;
    for (let s = 0; s < c.streamBusyMs.length; s++) busy += c.streamBusyMs[s];
    const judged = completed + dropped;
    const [p50Ms, p90Ms, p95Ms, p99Ms] = this.hist.quantiles(QS);
    return {
      timeMs: c.nowMs,
      windowStartMs: this.windowStartMs,
      goodput: sec > 0 ? good / sec : 0,
      attainment: arrived ? Math.min(1, good / arrived) : 1,
      p90Ms,
      meanQueueMs: completed ? queueMs / completed : 0,
      meanComputeMs: completed ? computeMs / completed : 0,
      throughput: sec > 0 ? completed / sec : 0,
      stepThroughput: c.lastDtMs > 0 ? stepCompleted / (c.lastDtMs / 1000) : 0,
      p50Ms,
      p95Ms,
      p99Ms,
      meanLatencyMs: this.hist.mean(),
      backlog,
      inSystem: c.inSystem,
      // Stream busy time is cumulative since reset: utilisation stays a whole-episode figure.
      utilisation: c.nowMs > 0 ? busy / (c.nowMs * c.streamBusyMs.length) : 0,
      sloAttainment: judged ? 1 - violations / judged : 1,
      arrived,
      completed,
      dropped,
      violations,
      memory: c.memoryFraction,
      models,
    };
  }
}
