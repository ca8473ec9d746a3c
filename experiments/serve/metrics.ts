/**
 * Prometheus metrics under Triton's names and labels (model, version), so dashboards built for
 * Triton read a topsched server unchanged. As in Triton, the *_duration_us metrics are counters of
 * cumulative microseconds: a rate of (duration ÷ count) gives the mean per request.
 *
 *  - nv_inference_request_success / _failure   requests answered / failed (any reason)
 *  - nv_inference_count                        inferences performed (requests in executed batches)
 *  - nv_inference_exec_count                   executions (a batch of requests is one)
 *  - nv_inference_request_duration_us          receipt to response, successful requests
 *  - nv_inference_queue_duration_us            arrival to launch start
 *  - nv_inference_compute_infer_duration_us    launch start to end (per request in the launch)
 *  - nv_inference_pending_request_count        accepted and not yet answered (gauge)
 */
import { Counter, Gauge, Registry } from 'prom-client';

const LABELS = ['model', 'version'] as const;

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly counter = (name: string, help: string) => new Counter({ name, help, labelNames: LABELS, registers: [this.registry] });
  readonly success = this.counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes');
  readonly failure = this.counter('nv_inference_request_failure', 'Number of failed inference requests, all batch sizes');
  readonly count = this.counter('nv_inference_count', 'Number of inferences performed (does not include cached requests)');
  readonly execCount = this.counter('nv_inference_exec_count', 'Number of model executions performed (does not include cached requests)');
  readonly requestUs = this.counter('nv_inference_request_duration_us', 'Cumulative inference request duration in microseconds (includes cached requests)');
  readonly queueUs = this.counter('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds (includes cached requests)');
  readonly computeUs = this.counter(
    'nv_inference_compute_infer_duration_us',
    'Cumulative compute inference duration in microseconds (does not include cached requests)',
  );
  readonly pending = new Gauge({
    name: 'nv_inference_pending_request_count',
    help: 'Instantaneous number of pending requests awaiting execution per-model.',
    labelNames: LABELS,
    registers: [this.registry],
  });

  constructor(models: readonly string[]) {
    // Every series exists from the start (at 0), as Triton's do, so a scrape before traffic lists them.
    for (const model of models)
      for (const m of [this.success, this.failure, this.count, this.execCount, this.requestUs, this.queueUs, this.computeUs, this.pending])
        m.inc({ model, version: '1' }, 0);
  }
}

/** One sample of a Prometheus text exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (the subset prom-client writes: no timestamps, no exemplars). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`metrics: cannot parse line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}
