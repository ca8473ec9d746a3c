/**
 * The run config of `topsched train`: a strict zod schema (unknown keys are errors), and the error
 * formatter that names every bad field by its full path and quotes the bad value, e.g.
 * `env.workload.models[1].arrival.rate: expected number, got "fast"`.
 * Defaults live in defaults.ts; loading, merging and overrides in load.ts / overrides.ts.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../../agents/backend.js';
import { formatPath, WorkloadSchema } from '../../env/workload.js';

const int = (min: number) => z.number().int().min(min);
const pos = z.number().positive().finite();
const nonNeg = z.number().nonnegative().finite();
const intList = (min: number) => z.array(int(min)).min(1);

export const EnvConfigSchema = z
  .object({
    workload: WorkloadSchema,
    cost: z.string().min(1),
    device: z.string().min(1).optional(),
    candidates: z.array(z.enum(['sequential', 'greedy', 'ios-dp'])).min(1),
    levels: intList(0),
    batchSizes: intList(1),
    microBatches: intList(1),
    epochMs: pos,
    maxSteps: int(0),
    skipIdle: z.boolean(),
    reward: z.object({ wThroughput: z.number().finite(), wBacklog: z.number().finite(), wSlo: z.number().finite(), scale: z.number().finite() }).strict(),
    mode: z.enum(['streams', 'contexts', 'mps']),
    streams: int(1),
    contextSwitchMs: nonNeg.optional(),
    timeSliceMs: pos.optional(),
    mpsShare: z.union([pos, z.array(pos).min(1)]).optional(),
    transfers: z.enum(['none', 'pinned', 'pageable']),
    pinnedGBps: pos.optional(),
    pageableGBps: pos.optional(),
    pipeline: z.boolean().optional(),
    preprocMsPerSample: nonNeg.optional(),
    preprocWorkers: int(1).optional(),
    memoryBytes: pos.optional(),
    pageFaultPenalty: nonNeg.optional(),
    splitMinBytes: nonNeg.optional(),
    activationModel: z.enum(['planner', 'live-bytes']),
  })
  .strict();

export const AgentConfigSchema = z
  .object({
    lr: pos,
    gamma: z.number().min(0).max(1),
    tau: z.number().gt(0).max(1),
    batchSize: int(1),
    bufferSize: int(1),
    learningStarts: int(0),
    trainFreq: int(1),
    gradientSteps: int(1),
    hidden: intList(1),
    gradClip: nonNeg,
    clipMode: z.enum(['per-variable', 'global']),
    actorReg: nonNeg,
    temperature: pos,
    straightThrough: z.boolean(),
    shareActor: z.boolean(),
    dtUnit: pos,
    maxEpisodeSteps: int(0),
  })
  .strict();

export const EVAL_BASELINES = ['fixed-frequency', 'one-at-a-time', 'greedy-release', 'random', 'pos', 'triton', 'sequential', 'greedy', 'ios-dp'] as const;

export const RunConfigSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only (it names a directory)'),
    seed: int(0),
    env: EnvConfigSchema,
    agent: AgentConfigSchema,
    train: z
      .object({
        steps: int(1),
        backend: z.enum(BACKEND_CHOICES as unknown as [string, ...string[]]),
        logEvery: int(1),
        checkpointEvery: int(0),
        evalEvery: int(0),
        evalEpisodes: int(1),
      })
      .strict(),
    eval: z
      .object({
        episodes: int(1),
        seed: int(0),
        baselines: z.array(z.enum(EVAL_BASELINES)),
        executor: z.enum(['sim', 'native']),
      })
      .strict(),
  })
  .strict();

export type RunConfig = z.output<typeof RunConfigSchema>;

/** The value at `path` inside `doc` (undefined when a step is missing). */
export function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = doc;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p as string];
  }
  return v;
}

const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));

/** One line per zod issue: full path, what was expected, the value quoted. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], doc: unknown): string[] {
  return issues.map((i) => {
    const value = valueAt(doc, i.path);
    if (i.code === 'unrecognized_keys') {
      const parent = valueAt(doc, i.path);
      const known = Object.keys(parent && typeof parent === 'object' ? parent : {}).filter((k) => !i.keys.includes(k));
      return i.keys.map((k) => `${formatPath([...i.path, k])}: unknown key '${k}'${known.length ? ` (known here: ${known.join(', ')})` : ''}`).join('; ');
    }
    if (i.code === 'invalid_type') return `${formatPath(i.path)}: expected ${i.expected}, got ${show(value)}`;
    if (i.code === 'invalid_value') return `${formatPath(i.path)}: expected one of ${i.values.map((x) => JSON.stringify(x)).join(' | ')}, got ${show(value)}`;
    if (i.code === 'invalid_union' && Array.isArray(value) === false && typeof value !== 'number')
      return `${formatPath(i.path)}: expected a number or a list of numbers, got ${show(value)}`;
    return `${formatPath(i.path)}: ${i.message.replace(/^Invalid input: /, '')}, got ${show(value)}`;
  });
}

export class ConfigError extends Error {
  constructor(
    readonly where: string,
    readonly problems: string[],
  ) {
    super(`${where}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Validates a merged document (defaults + file + overrides). */
export function validateRunConfig(doc: unknown, where: string): RunConfig {
  const r = RunConfigSchema.safeParse(doc);
  if (!r.success) throw new ConfigError(where, formatIssues(r.error.issues, doc));
  return r.data;
}
