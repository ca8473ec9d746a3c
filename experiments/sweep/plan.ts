/**
 * A sweep's plan: a run config × a grid of overrides × seeds → one run per (grid point, seed), each
 * with its fully resolved config (self-contained YAML: the workload is inlined), a job id that is a
 * hash of that config (resubmitting the same sweep submits the same ids: idempotent), and its run
 * directory under the shared runs dir. The plan is what every executor of a sweep — the local pool
 * and the BullMQ workers — runs, and what the aggregate reads back.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { configToYaml, loadRunConfig } from '../config/load.js';
import { runDirName } from '../run-dir.js';

export interface SweepRun {
  /** The grid point, e.g. `agent.lr=0.001,env.epochMs=5` ('' for no grid). */
  point: string;
  grid: Record<string, string>;
  seed: number;
  jobId: string;
  runDir: string;
  configYaml: string;
}

export interface SweepPlan {
  format: 'topsched.sweep/1';
  id: string;
  config: string;
  grid: Record<string, string[]>;
  seeds: number[];
  runsDir: string;
  /** The project version the runs must be trained with (workers of another version refuse them). */
  version: string;
  runs: SweepRun[];
}

/** `--grid key=v1,v2` items → ordered key → values. */
export function parseGrid(items: readonly string[]): Record<string, string[]> {
  const grid: Record<string, string[]> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--grid: expected key=v1,v2,…, got '${item}'`);
    const key = item.slice(0, eq).trim();
    const values = item
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim());
    if (!values.length || values.some((v) => !v.length)) throw new Error(`--grid ${key}: empty value in '${item}'`);
    if (grid[key]) throw new Error(`--grid: key '${key}' is given twice`);
    if (new Set(values).size !== values.length) throw new Error(`--grid ${key}: repeated value in '${item}'`);
    grid[key] = values;
  }
  return grid;
}

/** `--seeds 0..4` or `0,2,7`. */
export function parseSeeds(s: string): number[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(s.trim());
  let seeds: number[];
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    if (b < a) throw new Error(`--seeds: empty range '${s}'`);
    if (b - a >= 10_000) throw new Error(`--seeds: at most 10,000 seeds, got '${s}'`);
    seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
  } else seeds = s.split(',').map((x) => Number(x.trim()));
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x) || x < 0))
    throw new Error(`--seeds: expected a..b or a comma list of non-negative integers, got '${s}'`);
  if (new Set(seeds).size !== seeds.length) throw new Error(`--seeds: repeated seed in '${s}'`);
  return seeds;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export function planSweep(o: { config: string; grid: Record<string, string[]>; seeds: number[]; runsDir: string; version: string }): SweepPlan {
  const keys = Object.keys(o.grid);
  let points: Record<string, string>[] = [{}];
  for (const k of keys) points = points.flatMap((p) => o.grid[k].map((v) => ({ ...p, [k]: v })));
  const runs: SweepRun[] = [];
  for (const grid of points) {
    const overrides = Object.entries(grid).map(([k, v]) => `${k}=${v}`);
    for (const seed of o.seeds) {
      // A bad grid key or value is a config error naming its path (config/load.ts), before anything runs.
      const cfg = loadRunConfig(o.config, [...overrides, `seed=${seed}`]);
      const configYaml = configToYaml(cfg);
      runs.push({ point: overrides.join(','), grid, seed, jobId: sha(configYaml).slice(0, 24), runDir: join(resolve(o.runsDir), runDirName(cfg)), configYaml });
    }
  }
  const ids = new Set(runs.map((r) => r.jobId));
  if (ids.size !== runs.length) throw new Error('sweep: two grid points resolve to the same config (a grid value that changes nothing?)');
  return {
    format: 'topsched.sweep/1',
    id: sha(runs.map((r) => r.jobId).join('\n')).slice(0, 12),
    config: resolve(o.config),
    grid: o.grid,
    seeds: o.seeds,
    runsDir: resolve(o.runsDir),
    version: o.version,
    runs,
  };
}
