/**
 * An evaluation spec: workloads × loads × policies × seeds on one executor, declared in YAML and
 * checked by zod (errors name the file and the field's path). experiments/specs/ holds one per
 * experiment; `scales` holds named overrides (e.g. `tiny` for the tests), merged over the spec.
 *
 *   name: adaptation
 *   executor: sim
 *   env: { cost: roofline:v100, epochMs: 10, maxSteps: 3200, streams: 4 }
 *   warmupS: 2
 *   loads: [0.7, 0.9]                       # fractions of each workload's calibrated capacity
 *   workloads:
 *     - { file: ../workloads/adaptation/poisson-steady.yaml }
 *     - { file: ../workloads/adaptation/azure-code.yaml, heldOut: true }   # never trained on
 *   policies: [best-static, rate-adaptive, deadline-aware, triton, pos, one-at-a-time, maddpg]
 *   seeds: { eval: { from: 1000, count: 10 }, tuning: { from: 2000, count: 2 }, train: [0, 1, 2, 3, 4] }
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { TritonOptions } from '../../agents/baselines.js';
import { deepMerge, readYaml } from '../config/load.js';
import { AgentConfigSchema, ConfigError, formatIssues, MAX_SEED } from '../config/schema.js';

export const BASELINE_POLICIES = ['best-static', 'rate-adaptive', 'deadline-aware', 'triton', 'pos', 'one-at-a-time', 'greedy-release'] as const;
export type BaselineName = (typeof BASELINE_POLICIES)[number];
export type PolicyName = string;

/**
 * A learned row: the algorithm, its options (checked by the trainer's own resolver), and which of
 * the better starts and signals it uses. `maddpg` needs no entry: it is TOP-faithful MADDPG with
 * `learned.agent`.
 */
export const LearnerSchema = z
  .object({
    algorithm: z.enum(['maddpg', 'mappo']),
    /** Env steps per training seed (default learned.steps). */
    steps: z.number().int().min(1).max(1e9).optional(),
    /** Options of the algorithm (MaddpgConfig or MappoConfig fields). */
    agent: z.record(z.string(), z.unknown()).default({}),
    /** MAPPO: sub-envs of the synchronous vector env. */
    envs: z.number().int().min(1).max(256).default(8),
    /**
     * Which agents learn (an ablation): 'launcher' or 'scheduler' freezes the other to the residual
     * base's own choice (needs `residual`). Default both.
     */
    learn: z.enum(['both', 'launcher', 'scheduler']).default('both'),
    /** Learn a residual over this heuristic (env/residual.ts). */
    residual: z.enum(['greedy-release', 'triton']).optional(),
    /** Residual moves per component: choices base − r … base + r. */
    residualRange: z.number().int().min(1).max(16).default(1),
    /** Behaviour-cloning warm start (agents/bc.ts): from "keep" in residual mode, else from greedy-release. */
    warmStart: z
      .object({ steps: z.number().int().min(1).max(1e7), targetAccuracy: z.number().gt(0).max(1).default(0.95) })
      .strict()
      .optional(),
    /** Env options of the learner's own training env (and of its observation layout at evaluation). */
    env: z
      .object({
        loadFeatures: z.boolean().optional(),
        reward: z
          .object({
            kind: z.enum(['throughput', 'goodput']).optional(),
            wBacklog: z.number().min(0).max(1e6).optional(),
            scale: z.number().gt(0).max(1e6).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type LearnerSpec = z.output<typeof LearnerSchema> & {
  steps: number;
  /** The residual base's configuration, tuned by the harness on the training mixture. */
  residualConfig?: TritonOptions;
};

const seedRange = z.object({ from: z.number().int().min(0).max(MAX_SEED), count: z.number().int().min(1).max(1000) }).strict();

export const SpecSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - only (it names result files)'),
    executor: z.enum(['sim', 'native']).default('sim'),
    /** AsyncInference options shared by every cell (the workload is the cell's). */
    env: z.record(z.string(), z.unknown()).default({}),
    warmupS: z.number().nonnegative().max(3600).default(2),
    loads: z.array(z.number().positive().max(10)).min(1).max(20),
    workloads: z
      .array(z.object({ file: z.string().min(1), heldOut: z.boolean().default(false) }).strict())
      .min(1)
      .max(50),
    /** Baselines (BASELINE_POLICIES), 'maddpg', or names of `learners`. */
    policies: z.array(z.string().min(1)).min(1),
    learners: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/), LearnerSchema).default({}),
    seeds: z
      .object({
        eval: seedRange,
        tuning: seedRange,
        train: z.array(z.number().int().min(0).max(MAX_SEED)).min(1).max(50),
      })
      .strict(),
    tuning: z
      .object({
        /** Env steps the best-static search may spend per cell (at least the learners' training steps). */
        staticBudgetSteps: z.number().int().min(1).max(1e9).default(150_000),
        /** Load levels (fractions of capacity) of the rate-adaptive table. */
        rateLoads: z.array(z.number().positive().max(10)).min(1).max(20).default([0.3, 0.5, 0.7, 0.9, 1.1]),
        rateBudgetSteps: z.number().int().min(1).max(1e9).default(60_000),
      })
      .strict()
      .default({ staticBudgetSteps: 150_000, rateLoads: [0.3, 0.5, 0.7, 0.9, 1.1], rateBudgetSteps: 60_000 }),
    learned: z
      .object({
        steps: z.number().int().min(1).max(1e9).default(30_000),
        /** Loads of the training mixture (each episode draws a workload and a load). */
        trainLoads: z.array(z.number().positive().max(10)).min(1).max(20).default([0.5, 0.7, 0.9, 1.1]),
        agent: AgentConfigSchema.partial().default({}),
      })
      .strict()
      .default({ steps: 30_000, trainLoads: [0.5, 0.7, 0.9, 1.1], agent: {} }),
    /** Named overrides of any of the above (`--scale tiny`). */
    scales: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  })
  .strict();

export type Spec = z.output<typeof SpecSchema> & { baseDir: string; file: string; scale: string };

/** Reads and checks a spec; `scale` picks one of its `scales` to merge over it. Errors name the file and field. */
export function loadSpec(file: string, scale = 'default'): Spec {
  const doc = readYaml(file, 'spec');
  const first = SpecSchema.safeParse(doc);
  if (!first.success) throw new ConfigError(file, formatIssues(first.error.issues, doc));
  let merged: unknown = doc;
  if (scale !== 'default') {
    const over = first.data.scales[scale];
    if (!over) throw new ConfigError(file, [`--scale '${scale}': no such scale (scales: default, ${Object.keys(first.data.scales).join(', ') || 'none'})`]);
    merged = deepMerge(doc, over);
  }
  const r = SpecSchema.safeParse(merged);
  if (!r.success) throw new ConfigError(`${file} (scale ${scale})`, formatIssues(r.error.issues, merged));
  for (const p of r.data.policies)
    if (!(BASELINE_POLICIES as readonly string[]).includes(p) && p !== 'maddpg' && !(p in r.data.learners))
      throw new ConfigError(file, [
        `policies: '${p}' is neither a baseline (${BASELINE_POLICIES.join(', ')}), 'maddpg', nor a name under learners (${Object.keys(r.data.learners).join(', ') || 'none'})`,
      ]);
  const baseDir = dirname(resolve(file));
  return { ...r.data, workloads: r.data.workloads.map((w) => ({ ...w, file: resolve(baseDir, w.file) })), baseDir, file, scale };
}
