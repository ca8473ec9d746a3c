/**
 * A finished sweep's aggregate: per grid point, the learned policy's final evaluation (each run's
 * results.json, written by train) averaged over seeds with a bootstrap 95 % interval; written as
 * markdown, JSON and a plot next to the runs. Only files are read, so the embedded and the Redis
 * sweep of one plan aggregate to the same numbers when their runs are the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFileVersionEvent, encodeScalarEvent } from '../../agents/tensorboard.js';
import { eventsFile, experimentEvent, type HParamValue, sessionEndEvent, sessionStartEvent } from '../../agents/tensorboard-hparams.js';
import { type Interval, meanInterval } from '../../env/stats.js';
import type { EvalReport } from '../commands/eval.js';
import { table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { barChart, writePlot } from '../plot.js';
import { RUN_FILES } from '../run-dir.js';
import type { SweepPlan } from './plan.js';

const METRICS = ['throughput', 'p99Ms', 'sloAttainment', 'return'] as const;
type Metric = (typeof METRICS)[number];

export interface PointAggregate {
  point: string;
  grid: Record<string, string>;
  seeds: number[];
  /** The learned policy's row name in results.json (the algorithm). */
  policy: string;
  metrics: Record<Metric, Interval & { values: number[] }>;
  /** Runs of this point without results (failed, cancelled, still running). */
  missing: string[];
}

export interface SweepAggregate {
  format: 'topsched.sweep-aggregate/1';
  sweep: string;
  config: string;
  points: PointAggregate[];
}

export function aggregateSweep(plan: SweepPlan): SweepAggregate {
  const points = [...new Set(plan.runs.map((r) => r.point))];
  return {
    format: 'topsched.sweep-aggregate/1',
    sweep: plan.id,
    config: plan.config,
    points: points.map((point) => {
      const runs = plan.runs.filter((r) => r.point === point);
      const rows: { seed: number; row: EvalReport['policies'][number] }[] = [];
      const missing: string[] = [];
      for (const r of runs) {
        const file = join(r.runDir, RUN_FILES.results);
        if (!existsSync(file)) {
          missing.push(r.runDir);
          continue;
        }
        const rep = JSON.parse(readFileSync(file, 'utf8')) as EvalReport;
        rows.push({ seed: r.seed, row: rep.policies[0] });
      }
      const metrics = Object.fromEntries(
        METRICS.map((k) => {
          const values = rows.map((x) => x.row.mean[k]);
          return [k, { ...meanInterval(values, `${plan.id}:${point}:${k}`), values }];
        }),
      ) as PointAggregate['metrics'];
      return { point, grid: runs[0].grid, seeds: rows.map((x) => x.seed), policy: rows[0]?.row.name ?? '-', metrics, missing };
    }),
  };
}

/** The metrics the HParams dashboard shows per run: the final evaluation of the learned policy. */
const HPARAM_METRICS: Record<string, Metric> = {
  'sweep/throughput': 'throughput',
  'sweep/p99_ms': 'p99Ms',
  'sweep/slo_attainment': 'sloAttainment',
  'sweep/return': 'return',
};

/**
 * TensorBoard hparams records: the experiment (grid keys and their values, seed, the metric tags)
 * in the runs dir itself, and in every finished run's tb/ a session (its grid values and seed, its
 * final metrics as scalars, its end), so `tensorboard --logdir <runs-dir>` lists the sweep's runs
 * in the HParams dashboard. Fixed file names: aggregating again rewrites them.
 */
function writeHParams(plan: SweepPlan): void {
  const now = Date.now() / 1000;
  const numeric = (v: string): HParamValue => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);
  const hparams = [
    ...Object.entries(plan.grid).map(([name, values]) => ({ name, values: values.map(numeric) })),
    { name: 'seed', values: plan.seeds as HParamValue[] },
  ];
  const file = `events.out.tfevents.0.sweep-${plan.id}`;
  writeFileAtomic(
    join(plan.runsDir, file),
    eventsFile([encodeFileVersionEvent(now), experimentEvent(now, { name: `sweep ${plan.id}`, hparams, metrics: Object.keys(HPARAM_METRICS) })]),
  );
  for (const r of plan.runs) {
    const results = join(r.runDir, RUN_FILES.results);
    if (!existsSync(results)) continue;
    const rep = JSON.parse(readFileSync(results, 'utf8')) as EvalReport;
    const values = Object.entries(HPARAM_METRICS).map(([tag, k]) => ({ tag, value: rep.policies[0].mean[k] }));
    const hp: Record<string, HParamValue> = { ...Object.fromEntries(Object.entries(r.grid).map(([k, v]) => [k, numeric(v)])), seed: r.seed };
    writeFileAtomic(
      join(r.runDir, RUN_FILES.tensorboard, file),
      eventsFile([
        encodeFileVersionEvent(now),
        sessionStartEvent(now, hp, r.point),
        encodeScalarEvent(now, rep.trainedSteps, values),
        sessionEndEvent(now, 'success'),
      ]),
    );
  }
}

const ci = (i: Interval) => `${i.mean.toFixed(3)} [${i.ci95[0].toFixed(3)}, ${i.ci95[1].toFixed(3)}]`;

/** Writes sweep-<id>.md / .json / -throughput.svg/png and the hparams records into the runs dir; returns the paths. */
export async function writeAggregate(plan: SweepPlan, agg: SweepAggregate, command: string): Promise<string[]> {
  const base = join(plan.runsDir, `sweep-${plan.id}`);
  const md = [
    `# Sweep ${plan.id}`,
    '',
    `Config: ${plan.config}; grid: ${
      Object.entries(plan.grid)
        .map(([k, v]) => `${k} ∈ {${v.join(', ')}}`)
        .join('; ') || 'none'
    }; seeds ${plan.seeds.join(', ')}.`,
    "Each cell: mean over seeds of the learned policy's final evaluation (results.json), with a bootstrap 95 % interval.",
    '',
    `Machine: ${machineLine()}`,
    '',
    `Command: \`${command}\``,
    '',
    table(
      ['grid point', 'seeds', 'throughput req/s', 'p99 ms', 'SLO attainment', 'return', 'missing runs'],
      agg.points.map((p) => [
        p.point || '(base config)',
        p.seeds.length,
        ci(p.metrics.throughput),
        ci(p.metrics.p99Ms),
        ci(p.metrics.sloAttainment),
        ci(p.metrics.return),
        p.missing.length,
      ]),
    ),
    '',
    `![throughput](sweep-${plan.id}-throughput.png)`,
    '',
  ].join('\n');
  writeFileAtomic(`${base}.md`, md);
  writeHParams(plan);
  writeFileAtomic(`${base}.json`, `${JSON.stringify(agg, null, 1)}\n`);
  const plot = await writePlot(
    barChart({
      title: `Sweep ${plan.id}: throughput of the learned policy (mean over seeds)`,
      data: agg.points.map((p) => ({ point: p.point || 'base', throughput: p.metrics.throughput.mean })),
      category: { field: 'point', title: 'grid point' },
      value: { field: 'throughput', title: 'throughput (req/s)' },
    }),
    `${base}-throughput`,
  );
  return [`${base}.md`, `${base}.json`, plot.png, plot.svg];
}
