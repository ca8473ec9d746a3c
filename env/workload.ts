/**
 * Workloads: which models receive requests, how the requests arrive, and each model's latency
 * SLO. A workload is a YAML (or JSON) document checked against a zod schema; a bad field is an
 * error naming its path, e.g. `models[1].arrival.rate: expected number, received string`.
 *
 *   name: two-cnns
 *   models:
 *     - name: resnet50                 # zoo name; or `source: path/to/model.onnx` (or .json)
 *       sloMs: 50
 *       arrival: { kind: poisson, rate: 200 }          # requests/s
 *     - name: squeezenet
 *       arrival: { kind: mmpp, rates: [50, 800], switching: [0.5, 2] }
 *     - name: mobilenet_v2
 *       arrival: { kind: diurnal, mean: 100, amplitude: 0.8, periodS: 60 }
 *     - name: bert
 *       arrival: { kind: trace, path: trace.csv, loop: true }   # rows time_s,model,batch
 *     - name: inception_v3
 *       arrival: { kind: piecewise, segments: [{ durationS: 20, rate: 100 }, { durationS: 5, rate: 200 }] }
 *     - name: resnet50
 *       arrival: { kind: replay, path: azure/code.csv, rate: 80, keep: 0.4 }  # a real log, rescaled
 *
 * Relative paths (`source`, trace `path`) resolve against the workload file's directory.
 */

import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { readTextBounded } from '../graphs/limits.js';
import {
  type ArrivalProcess,
  DiurnalArrivals,
  loadTraceCsv,
  MmppArrivals,
  PiecewiseArrivals,
  PoissonArrivals,
  parseTimestampLog,
  ReplayArrivals,
  TraceArrivals,
  type TraceRow,
} from './arrivals.js';
import { EnvError } from './core.js';

// Bounded so a typo (rate: 1e12) is an error naming the field, not an arrival stream that never ends.
const rate = z.number().nonnegative().finite().max(1e6);

export const ArrivalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('poisson'), rate }).strict(),
  z
    .object({
      kind: z.literal('mmpp'),
      rates: z.tuple([rate, rate]),
      switching: z.tuple([rate, rate]),
    })
    .strict(),
  z
    .object({
      kind: z.literal('diurnal'),
      mean: rate,
      amplitude: z.number().min(0).max(1),
      periodS: z.number().positive().finite().max(1e7),
      phase: z.number().finite().min(-1e7).max(1e7).default(0),
    })
    .strict(),
  z
    .object({
      kind: z.literal('piecewise'),
      segments: z
        .array(z.object({ durationS: z.number().positive().finite().max(1e7), rate }).strict())
        .min(1)
        .max(1000),
      loop: z.boolean().default(false),
    })
    .strict(),
  z
    .object({
      kind: z.literal('replay'),
      /** A request log with a TIMESTAMP column (e.g. ../shared/traces/azure-llm-2023/code.csv). */
      path: z.string().min(1),
      /** Mean requests/s this model receives. */
      rate,
      /** Probability that a request of the log goes to this model (its share of the mix). */
      keep: z.number().gt(0).max(1).default(1),
    })
    .strict(),
  z
    .object({
      kind: z.literal('trace'),
      path: z.string().min(1),
      loop: z.boolean().default(false),
      offsetS: z.number().nonnegative().finite().max(1e7).default(0),
    })
    .strict(),
]);
export type ArrivalSpec = z.infer<typeof ArrivalSchema>;

export const WorkloadModelSchema = z
  .object({
    /** The model's name in the env (observations, metrics, traces). */
    name: z.string().min(1),
    /** Zoo name, `.onnx` or topsched `.json` file; defaults to `name`. */
    source: z.string().min(1).optional(),
    /** Latency objective per request, ms (arrival to completion). */
    sloMs: z.number().positive().finite().max(1e7).default(100),
    arrival: ArrivalSchema,
    /** Most requests that may wait; further arrivals are dropped (and count as SLO violations). */
    maxQueue: z.number().int().positive().max(1e7).default(10_000),
  })
  .strict();
export type WorkloadModel = z.infer<typeof WorkloadModelSchema>;

export const WorkloadSchema = z
  .object({
    name: z.string().min(1).default('workload'),
    models: z.array(WorkloadModelSchema).min(1).max(64),
  })
  .strict()
  .superRefine((w, ctx) => {
    const seen = new Map<string, number>();
    w.models.forEach((m, i) => {
      const j = seen.get(m.name);
      if (j !== undefined) ctx.addIssue({ code: 'custom', path: ['models', i, 'name'], message: `duplicate model name '${m.name}' (also models[${j}])` });
      seen.set(m.name, i);
    });
  });

export interface Workload {
  name: string;
  models: WorkloadModel[];
  /** Directory relative paths resolve against (the workload file's). */
  baseDir: string;
}

/** `models[1].arrival.rate` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s || '(root)';
}

/** Validates a parsed document; the error lists every bad field by path. */
export function parseWorkload(doc: unknown, where = 'workload', baseDir = process.cwd()): Workload {
  const r = WorkloadSchema.safeParse(doc);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${formatPath(i.path)}: ${i.message.replace(/^Invalid input: /, '')}`);
    throw new EnvError(lines.join('; '), where);
  }
  return { name: r.data.name, models: r.data.models, baseDir };
}

/** Parses YAML (JSON is YAML too). */
export function workloadFromYaml(text: string, where = 'workload YAML', baseDir = process.cwd()): Workload {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new EnvError(`invalid YAML: ${(e as Error).message}`, where);
  }
  return parseWorkload(doc, where, baseDir);
}

export function loadWorkloadFile(path: string): Workload {
  return workloadFromYaml(readTextBounded(path, 'workload'), path, dirname(resolve(path)));
}

export function resolvePath(workload: Workload, path: string): string {
  return isAbsolute(path) ? path : resolve(workload.baseDir, path);
}

/** The model spec handed to `resolveModel`: the `source`, or the name. A file source is made absolute. */
export function modelSource(workload: Workload, m: WorkloadModel): string {
  const src = m.source ?? m.name;
  return /\.(onnx|json)$/i.test(src) ? resolvePath(workload, src) : src;
}

/**
 * One arrival process per model, in workload order. Trace files are read once; a row naming a
 * model the workload lacks is an error naming the file and line.
 */
/** Request logs by path, parsed once per process (they are read-only and a few hundred kB). */
const requestLogs = new Map<string, Float64Array>();
export function loadRequestLog(path: string): Float64Array {
  let t = requestLogs.get(path);
  if (!t) {
    t = parseTimestampLog(readTextBounded(path, 'request log'), path);
    requestLogs.set(path, t);
  }
  return t;
}

export function makeArrivals(workload: Workload): ArrivalProcess[] {
  const traces = new Map<string, TraceRow[]>();
  const names = new Set(workload.models.map((m) => m.name));
  return workload.models.map((m) => {
    const a = m.arrival;
    switch (a.kind) {
      case 'poisson':
        return new PoissonArrivals(a.rate);
      case 'mmpp':
        return new MmppArrivals(a.rates, a.switching);
      case 'diurnal':
        return new DiurnalArrivals(a.mean, a.amplitude, a.periodS, a.phase);
      case 'piecewise':
        return new PiecewiseArrivals(a.segments, a.loop);
      case 'replay': {
        const path = resolvePath(workload, a.path);
        return new ReplayArrivals(loadRequestLog(path), a.rate, a.keep, path);
      }
      case 'trace': {
        const path = resolvePath(workload, a.path);
        let rows = traces.get(path);
        if (!rows) {
          rows = loadTraceCsv(path);
          for (const r of rows) {
            if (!names.has(r.model)) throw new EnvError(`model '${r.model}' is not in the workload (models: ${[...names].join(', ')})`, r.at);
          }
          traces.set(path, rows);
        }
        return new TraceArrivals(
          rows.filter((r) => r.model === m.name),
          a.loop,
          a.offsetS,
        );
      }
    }
    throw new EnvError(`unknown arrival kind ${JSON.stringify((a as { kind: unknown }).kind)}`, `models[${workload.models.indexOf(m)}].arrival.kind`);
  });
}
