/**
 * `topsched sweep <config.yaml> [--grid key=v1,v2 …] [--seeds 0..4] [--workers N] [--redis URL] [--runs-dir DIR]`:
 * a config × grid × seeds, trained on a local pool of processes (default) or as BullMQ jobs on Redis
 * processed by `topsched worker --redis URL` on any machine sharing the runs dir; then the aggregate
 * (mean and 95 % interval per grid point) as markdown, JSON and a plot. `topsched sweep status <id>`
 * and `topsched sweep cancel <id>` act on a Redis sweep.
 */
import type { Command } from 'commander';
import { printJson, table } from '../format.js';
import { aggregateSweep, writeAggregate } from '../sweep/aggregate.js';
import { type RunState, runLocalSweep } from '../sweep/local.js';
import { parseGrid, parseSeeds, planSweep } from '../sweep/plan.js';
import { cancelSweep, type JobStatus, runWorker, submitSweep, sweepStatus, waitSweep } from '../sweep/redis.js';
import { projectVersion } from '../version.js';
import { intOption } from './options.js';

interface SweepCliOpts {
  grid: string[];
  seeds: string;
  workers?: number;
  redis?: string;
  runsDir: string;
  detach?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function statusTable(rows: { point: string; seed: number; state: string; attempts?: number; info?: string }[]): string {
  return table(
    ['grid point', 'seed', 'state', 'attempts', 'last'],
    rows.map((r) => [r.point || '(base)', r.seed, r.state, r.attempts ?? '-', (r.info ?? '').slice(0, 80)]),
  );
}

const jobRows = (jobs: JobStatus[]) =>
  jobs.map((j) => ({
    point: j.run.point,
    seed: j.run.seed,
    state: j.state,
    attempts: j.attempts,
    info: j.error ?? ((j.progress as { line?: string } | null)?.line || ''),
  }));

export function registerSweep(program: Command): void {
  program
    .command('sweep <config-or-action> [id]')
    .description(
      'train a config over a grid of overrides × seeds (local worker processes, or BullMQ jobs on Redis with --redis), then write the aggregate; `sweep status <id>` / `sweep cancel <id>` for a Redis sweep',
    )
    .option('--grid <key=v1,v2>', 'a config key and its values, repeatable (the grid is their product)', collect, [])
    .option('--seeds <a..b|list>', 'training seeds', '0..4')
    .option('--workers <n>', 'local worker processes (default: one per core)', intOption('--workers'))
    .option('--redis <url>', 'run as BullMQ jobs on this Redis (redis://host:port); workers: topsched worker --redis URL')
    .option('--runs-dir <dir>', 'where the runs go (shared by every worker)', 'runs')
    .option('--detach', '--redis: submit and return without waiting')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched sweep experiments/configs/two-models.yaml --grid agent.lr=1e-3,3e-4 --seeds 0..4\n  topsched sweep cfg.yaml --grid env.epochMs=5,10 --redis redis://127.0.0.1:6379 --runs-dir /shared/runs\n  topsched worker --redis redis://127.0.0.1:6379\n  topsched sweep status 3f2a9c1b7d04 --redis redis://127.0.0.1:6379',
    )
    .action(async (first: string, id: string | undefined, o: SweepCliOpts) => {
      if (first === 'status' || first === 'cancel') {
        if (!id) throw new Error(`sweep ${first}: give the sweep id`);
        if (!o.redis) throw new Error(`sweep ${first}: --redis URL is needed (local sweeps are not tracked after they end)`);
        if (first === 'cancel') {
          const r = await cancelSweep(id, o.redis);
          if (o.json) return printJson(r);
          console.log(`sweep ${id} cancelled: ${r.removed} waiting job(s) removed; running ones stop at their next episode boundary`);
          return;
        }
        const s = await sweepStatus(id, o.redis);
        if (o.json) return printJson(s);
        console.log(`sweep ${id}${s.cancelled ? ' (cancelled)' : ''}: ${s.plan.config}`);
        console.log(statusTable(jobRows(s.jobs)));
        return;
      }
      const plan = planSweep({ config: first, grid: parseGrid(o.grid), seeds: parseSeeds(o.seeds), runsDir: o.runsDir, version: projectVersion() });
      const say = o.json ? () => {} : (l: string) => console.log(l);
      say(
        `sweep ${plan.id}: ${plan.runs.length} runs (${Object.keys(plan.grid).length ? `${new Set(plan.runs.map((r) => r.point)).size} grid points × ` : ''}${plan.seeds.length} seeds) into ${plan.runsDir}`,
      );
      let failed: string[];
      if (o.redis) {
        const r = await submitSweep(plan, o.redis);
        say(`submitted to ${o.redis}: ${r.added} new job(s), ${r.existing} already there; process them with: topsched worker --redis ${o.redis}`);
        if (o.detach) return o.json ? printJson({ id: plan.id, ...r }) : undefined;
        let shown = '';
        const jobs = await waitSweep(plan.id, o.redis, (js) => {
          const line = js.map((j) => j.state).join(',');
          if (line !== shown && !o.json) console.log(statusTable(jobRows(js)));
          shown = line;
        });
        failed = jobs.filter((j) => j.state !== 'completed').map((j) => `${j.run.runDir}: ${j.state}${j.error ? ` (${j.error})` : ''}`);
      } else {
        let last = '';
        const states = await runLocalSweep(plan, {
          workers: o.workers,
          onUpdate: (s: RunState[]) => {
            const done = s.filter((x) => x.state === 'completed' || x.state === 'failed').length;
            const line = `${done}/${s.length} runs done, ${s.filter((x) => x.state === 'active').length} running`;
            if (line !== last) say(line);
            last = line;
          },
        });
        failed = states.filter((s) => s.state !== 'completed').map((s) => `${s.run.runDir}: ${s.error}`);
      }
      const agg = aggregateSweep(plan);
      const files = await writeAggregate(plan, agg, `topsched ${process.argv.slice(2).join(' ')}`);
      if (o.json) printJson({ id: plan.id, failed, files, aggregate: agg });
      else {
        console.log(
          table(
            ['grid point', 'seeds', 'throughput req/s (95 % CI)', 'SLO attainment'],
            agg.points.map((p) => [
              p.point || '(base)',
              p.seeds.length,
              `${p.metrics.throughput.mean.toFixed(2)} [${p.metrics.throughput.ci95.map((x) => x.toFixed(2)).join(', ')}]`,
              p.metrics.sloAttainment.mean.toFixed(3),
            ]),
          ),
        );
        console.log(`wrote ${files.join(', ')}`);
      }
      if (failed.length) throw new Error(`sweep ${plan.id}: ${failed.length} run(s) did not complete:\n  ${failed.join('\n  ')}`);
    });

  program
    .command('worker')
    .description('process sweep jobs from Redis (BullMQ), each in a sandboxed process, until SIGINT/SIGTERM')
    .requiredOption('--redis <url>', 'the sweep Redis (redis://host:port)')
    .option('--concurrency <n>', 'jobs at once', intOption('--concurrency'), 1)
    .option('--lock-ms <ms>', "a job's lock without renewal; a dead worker's job is retried after it", intOption('--lock-ms'), 30_000)
    .option('--stalled-ms <ms>', 'how often stalled jobs are looked for', intOption('--stalled-ms'), 15_000)
    .action(async (o: { redis: string; concurrency: number; lockMs: number; stalledMs: number }) => {
      const stop = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      console.log(`worker ${process.pid} (topsched ${projectVersion()}) on ${o.redis}, concurrency ${o.concurrency}`);
      await runWorker(o.redis, {
        concurrency: o.concurrency,
        version: projectVersion(),
        stop,
        lockMs: o.lockMs,
        stalledMs: o.stalledMs,
        log: (l) => console.log(l),
      });
      console.log('worker stopped');
    });
}
