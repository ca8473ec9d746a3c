/**
 * The run config of `topsched train`: a strict zod schema (unknown keys are errors), and the error
 * formatter that names every bad field by its full path and quotes the bad value, e.g.
 * `env.workload.models[1].arrival.rate: expected number, got "fast"`.
 * Defaults live in defaults.ts; loading, merging and overrides in load.ts / overrides.ts.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../../agents/backend.js';
import { formatPath, WorkloadSchema } from '../../env/workload.js';

// Every number has a bound: a value no machine could honour (env.streams: 1e9, agent.bufferSize:
// 1e12) is an error naming the field, not a run that exhausts memory minutes later.
const int = (min: number, max: number) => z.number().int().min(min).max(max);
const pos = (max: number) => z.number().positive().finite().max(max);
const nonNeg = (max: number) => z.number().nonnegative().finite().max(max);
const intList = (min: number, max: number, maxLength = 64) => z.array(int(min, max)).min(1).max(maxLength);
const MILLION = 1e6;
const BILLION = 1e9;
/** Seeds are 32-bit (the RNGs' state). */
export const MAX_SEED = 2 ** 32 - 1;

/** A reward weight: any finite number of sane magnitude. */
function rewardWeight() {
  return z.number().finite().min(-MILLION).max(MILLION);
}

export const EnvConfigSchema = z
  .object({
    workload: WorkloadSchema,
    cost: z.string().min(1),
    device: z.string().min(1).optional(),
    candidates: z
      .array(z.enum(['sequential', 'greedy', 'ios-dp']))
      .min(1)
      .max(3),
    levels: intList(0, 1024),
    batchSizes: intList(1, 4096),
    microBatches: intList(1, 4096),
    epochMs: pos(60_000),
    maxSteps: int(0, BILLION),
    skipIdle: z.boolean(),
    reward: z
      .object({
        wThroughput: rewardWeight(),
        wBacklog: rewardWeight(),
        wSlo: rewardWeight(),
        scale: rewardWeight(),
        kind: z.enum(['throughput', 'goodput']).optional(),
      })
      .strict(),
    loadFeatures: z.boolean().optional(),
    mode: z.enum(['streams', 'contexts', 'mps']),
    streams: int(1, 256),
    contextSwitchMs: nonNeg(60_000).optional(),
    timeSliceMs: pos(60_000).optional(),
    mpsShare: z.union([pos(1), z.array(pos(1)).min(1).max(64)]).optional(),
    transfers: z.enum(['none', 'pinned', 'pageable']),
    pinnedGBps: pos(MILLION).optional(),
    pageableGBps: pos(MILLION).optional(),
    pipeline: z.boolean().optional(),
    preprocMsPerSample: nonNeg(60_000).optional(),
    preprocWorkers: int(1, 256).optional(),
    memoryBytes: pos(2 ** 50).optional(),
    pageFaultPenalty: nonNeg(MILLION).optional(),
    splitMinBytes: nonNeg(2 ** 50).optional(),
    activationModel: z.enum(['planner', 'live-bytes']),
  })
  .strict();

export const AgentConfigSchema = z
  .object({
    lr: pos(10),
    gamma: z.number().min(0).max(1),
    tau: z.number().gt(0).max(1),
    batchSize: int(1, 65_536),
    bufferSize: int(1, 10 * MILLION),
    learningStarts: int(0, BILLION),
    trainFreq: int(1, MILLION),
    gradientSteps: int(1, 1000),
    hidden: intList(1, 4096, 16),
    gradClip: nonNeg(MILLION),
    clipMode: z.enum(['per-variable', 'global']),
    actorReg: nonNeg(MILLION),
    temperature: pos(1000),
    straightThrough: z.boolean(),
    shareActor: z.boolean(),
    dtUnit: pos(MILLION),
    maxEpisodeSteps: int(0, BILLION),
    otherActions: z.enum(['buffer', 'current', 'best-response']),
    hysteresis: z.number().gt(0).max(1),
    optimismUpdates: int(0, BILLION),
    actorDelay: int(0, BILLION),
  })
  .strict();

/** MAPPO hyper-parameters (agents/mappo.ts MappoConfig) plus the vector env it trains on. */
export const MappoConfigSchema = z
  .object({
    lr: pos(10),
    gamma: z.number().min(0).max(1),
    gaeLambda: z.number().min(0).max(1),
    rolloutSteps: int(1, MILLION),
    horizon: int(1, BILLION),
    epochs: int(1, 1000),
    minibatches: int(1, 4096),
    clip: pos(10),
    valueClip: nonNeg(MILLION),
    entCoef: nonNeg(MILLION),
    vfCoef: nonNeg(MILLION),
    maxGradNorm: nonNeg(MILLION),
    hidden: intList(1, 4096, 16),
    activation: z.enum(['tanh', 'relu']),
    shareActor: z.boolean(),
    valueNorm: z.boolean(),
    dtUnit: pos(MILLION),
    averageReward: z.boolean(),
    rhoLr: pos(1),
    envs: int(1, 256),
    vector: z.enum(['sync', 'async']),
  })
  .strict();

export const EVAL_BASELINES = ['fixed-frequency', 'one-at-a-time', 'greedy-release', 'random', 'pos', 'triton', 'sequential', 'greedy', 'ios-dp'] as const;

export const RunConfigSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only (it names a directory)'),
    seed: int(0, MAX_SEED),
    env: EnvConfigSchema,
    /** Which learner `train` runs: TOP's MADDPG (agent.*) or MAPPO (mappo.*). */
    algorithm: z.enum(['maddpg', 'mappo']),
    agent: AgentConfigSchema,
    mappo: MappoConfigSchema,
    train: z
      .object({
        steps: int(1, BILLION),
        backend: z.enum(BACKEND_CHOICES as unknown as [string, ...string[]]),
        logEvery: int(1, BILLION),
        checkpointEvery: int(0, BILLION),
        evalEvery: int(0, BILLION),
        evalEpisodes: int(1, 10_000),
      })
      .strict(),
    eval: z
      .object({
        episodes: int(1, 10_000),
        seed: int(0, MAX_SEED),
        baselines: z.array(z.enum(EVAL_BASELINES)).max(EVAL_BASELINES.length),
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
