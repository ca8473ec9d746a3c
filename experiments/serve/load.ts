/**
 * `topsched load`: a load generator for a KServe v2 server (ours or Triton), in perf_analyzer's
 * spirit. Open loop: requests are sent at the times of a seeded arrival process (Poisson at a rate,
 * or a real request log replayed and rescaled to a rate) whether or not earlier ones have been
 * answered; closed loop: N clients each send the next request when the last one is answered.
 * Latency is send to last response byte. The server's queue and compute time per request come
 * from its /metrics (Triton's nv_inference_* counters) read before and after. Loopback only.
 */
import { Agent, request } from 'node:http';
import { type ArrivalProcess, PoissonArrivals, ReplayArrivals } from '../../env/arrivals.js';
import { makeRng } from '../../env/spaces.js';
import { quantileSorted } from '../../env/stats.js';
import { loadRequestLog } from '../../env/workload.js';
import { parsePrometheus } from './metrics.js';

export type LoadMode = { kind: 'poisson'; rate: number } | { kind: 'replay'; path: string; rate: number } | { kind: 'closed'; concurrency: number };

export interface LoadOptions {
  url: string;
  model: string;
  mode: LoadMode;
  /** Seconds of load (after the warm-up). */
  durationS: number;
  /** Seconds sent first and not measured. Default 0. */
  warmupS?: number;
  seed?: number;
  /** Send inputs with the binary tensor extension (else JSON). Default false. */
  binary?: boolean;
}

export interface LoadReport {
  url: string;
  model: string;
  mode: LoadMode;
  durationS: number;
  sent: number;
  completed: number;
  failures: number;
  /** Failures by HTTP status ('network' for connection errors). */
  failuresBy: Record<string, number>;
  throughput: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Server-side means per request over the measured window (from /metrics), µs; null when unavailable. */
  serverQueueUs: number | null;
  serverComputeUs: number | null;
  serverRequestUs: number | null;
}

interface Metadata {
  inputs: { name: string; datatype: string; shape: number[] }[];
}

function checkLoopback(url: URL): void {
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname))
    throw new Error(`load: ${url.href} is not a loopback address (the load generator only targets 127.0.0.1 / localhost)`);
  if (url.protocol !== 'http:') throw new Error(`load: ${url.href}: only http:// is supported`);
}

const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

function send(url: URL, method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || 80,
        method,
        path,
        agent,
        headers: body ? { ...headers, 'content-length': String(body.length) } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // No Nagle: a request's last segment must not wait for the server's delayed ACK.
    req.setNoDelay(true);
    req.end(body);
  });
}

/** One request body for the model (seeded values), JSON or binary. */
export function requestBody(meta: Metadata, seed: number, binary: boolean): { body: Buffer; headers: Record<string, string> } {
  const rng = makeRng(`load:${seed}`);
  const tensors = meta.inputs.map((v) => {
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (v.datatype === 'FP32') return Float32Array.from({ length: n }, () => rng() * 2 - 1);
    if (v.datatype === 'INT64') return BigInt64Array.from({ length: n }, () => 0n);
    throw new Error(`load: input '${v.name}' has datatype ${v.datatype}; the load generator sends FP32 and INT64`);
  });
  if (!binary) {
    const inputs = meta.inputs.map((v, i) => ({ name: v.name, shape: v.shape, datatype: v.datatype, data: Array.from(tensors[i] as Float32Array, Number) }));
    return { body: Buffer.from(JSON.stringify({ inputs })), headers: { 'content-type': 'application/json' } };
  }
  const inputs = meta.inputs.map((v, i) => ({ name: v.name, shape: v.shape, datatype: v.datatype, parameters: { binary_data_size: tensors[i].byteLength } }));
  const head = Buffer.from(JSON.stringify({ inputs }));
  const body = Buffer.concat([head, ...tensors.map((t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength))]);
  return { body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) } };
}

async function serverCounters(url: URL, model: string): Promise<Record<string, number> | null> {
  try {
    const r = await send(url, 'GET', '/metrics');
    if (r.status !== 200) return null;
    const out: Record<string, number> = {};
    for (const s of parsePrometheus(r.body.toString('utf8'))) if (s.labels.model === model) out[s.name] = s.value;
    return out;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const url = new URL(o.url);
  checkLoopback(url);
  if (!(o.durationS > 0)) throw new Error(`load: duration must be > 0 s, got ${o.durationS}`);
  const path = `/v2/models/${encodeURIComponent(o.model)}`;
  let metaRes: { status: number; body: Buffer };
  try {
    metaRes = await send(url, 'GET', path);
  } catch (e) {
    throw new Error(`load: cannot reach ${url.origin}: ${(e as Error).message}`);
  }
  if (metaRes.status !== 200) throw new Error(`load: ${url.origin}${path} answered ${metaRes.status}: ${metaRes.body.toString('utf8').slice(0, 200)}`);
  const meta = JSON.parse(metaRes.body.toString('utf8')) as Metadata;
  const { body, headers } = requestBody(meta, o.seed ?? 0, o.binary ?? false);
  const inferPath = `${path}/infer`;

  const warmMs = (o.warmupS ?? 0) * 1000;
  const endMs = warmMs + o.durationS * 1000;
  const lat: number[] = [];
  const failuresBy: Record<string, number> = {};
  let sent = 0;
  let before: Record<string, number> | null = null;
  const t0 = performance.now();
  const measuring = (at: number) => at >= warmMs && at < endMs;
  const one = async (): Promise<void> => {
    const start = performance.now();
    const counted = measuring(start - t0);
    if (counted) sent++;
    try {
      const r = await send(url, 'POST', inferPath, body, headers);
      if (!counted) return;
      if (r.status === 200) lat.push(performance.now() - start);
      else failuresBy[r.status] = (failuresBy[r.status] ?? 0) + 1;
    } catch {
      if (counted) failuresBy.network = (failuresBy.network ?? 0) + 1;
    }
  };
  const inflight = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  const startMeasuring = async () => {
    if (warmMs > 0) await sleep(warmMs);
    before = await serverCounters(url, o.model);
  };
  const measureStart = startMeasuring();
  if (o.mode.kind === 'closed') {
    const n = o.mode.concurrency;
    if (!Number.isInteger(n) || n < 1) throw new Error(`load: concurrency must be a positive integer, got ${n}`);
    await Promise.all(
      Array.from({ length: n }, async () => {
        while (performance.now() - t0 < endMs) await one();
      }),
    );
  } else {
    const proc: ArrivalProcess =
      o.mode.kind === 'poisson' ? new PoissonArrivals(o.mode.rate) : new ReplayArrivals(loadRequestLog(o.mode.path), o.mode.rate, 1, o.mode.path);
    if (!(o.mode.rate > 0)) throw new Error(`load: rate must be > 0 requests/s, got ${o.mode.rate}`);
    proc.reset(makeRng(`load-arrivals:${o.seed ?? 0}`), o.seed ?? 0);
    let next = proc.next() * 1000;
    while (next < endMs) {
      const now = performance.now() - t0;
      if (next > now) await sleep(next - now);
      const at = performance.now() - t0;
      // Every arrival due by now goes out (timers fire late; an open loop never drops arrivals).
      while (next <= at && next < endMs) {
        for (let c = proc.count; c > 0; c--) track(one());
        next = proc.next() * 1000;
      }
    }
    await Promise.all([...inflight]);
  }
  await measureStart;
  const after = await serverCounters(url, o.model);
  const sorted = Float64Array.from(lat).sort();
  const failures = Object.values(failuresBy).reduce((a, b) => a + b, 0);
  const per = (name: string): number | null => {
    const b = before as Record<string, number> | null;
    if (!b || !after || after[name] === undefined || b[name] === undefined) return null;
    const n = after.nv_inference_request_success - b.nv_inference_request_success;
    return n > 0 ? (after[name] - b[name]) / n : null;
  };
  return {
    url: url.origin,
    model: o.model,
    mode: o.mode,
    durationS: o.durationS,
    sent,
    completed: lat.length,
    failures,
    failuresBy,
    throughput: lat.length / o.durationS,
    p50Ms: sorted.length ? quantileSorted(sorted, 0.5) : Number.NaN,
    p90Ms: sorted.length ? quantileSorted(sorted, 0.9) : Number.NaN,
    p95Ms: sorted.length ? quantileSorted(sorted, 0.95) : Number.NaN,
    p99Ms: sorted.length ? quantileSorted(sorted, 0.99) : Number.NaN,
    meanMs: lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length),
    serverQueueUs: per('nv_inference_queue_duration_us'),
    serverComputeUs: per('nv_inference_compute_infer_duration_us'),
    serverRequestUs: per('nv_inference_request_duration_us'),
  };
}

/** perf_analyzer-style CSV (latencies in µs). */
export function loadCsv(r: LoadReport): string {
  const us = (ms: number) => (Number.isFinite(ms) ? Math.round(ms * 1000) : '');
  const load = r.mode.kind === 'closed' ? `concurrency ${r.mode.concurrency}` : `${r.mode.kind} ${r.mode.rate}/s`;
  const head = 'Load,Inferences/Second,Server Queue,Server Compute Infer,Server Request,p50 latency,p90 latency,p95 latency,p99 latency,Failures';
  const row = [
    load,
    r.throughput.toFixed(1),
    r.serverQueueUs === null ? '' : Math.round(r.serverQueueUs),
    r.serverComputeUs === null ? '' : Math.round(r.serverComputeUs),
    r.serverRequestUs === null ? '' : Math.round(r.serverRequestUs),
    us(r.p50Ms),
    us(r.p90Ms),
    us(r.p95Ms),
    us(r.p99Ms),
    r.failures,
  ];
  return `${head}\n${row.join(',')}\n`;
}
