/**
 * `topsched simulate`: a workload file on the simulated AsyncInference env, driven by one of the
 * fixed baseline policies for T seconds of env time; prints the episode's metrics overall and per model.
 */
import type { Command } from 'commander';
import { AsyncInferenceEnv, BASELINES, type BaselineName, loadWorkloadFile, make, makePolicy } from '../../env/index.js';
import { ms, printJson, table } from '../format.js';
import { runEpisode } from '../harness/episode.js';
import { choiceOption, intOption, numberOption } from './options.js';

interface SimulateOpts {
  policy: BaselineName;
  seconds: number;
  seed: number;
  env: string;
  cost?: string;
  streams?: number;
  epochMs: number;
  schedule?: string;
  batch?: number;
  json?: boolean;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function registerSimulate(program: Command): void {
  program
    .command('simulate <workload>')
    .description('run a baseline policy on a workload (YAML/JSON) in the simulated env for T seconds of env time and print the metrics')
    .option('--policy <name>', `baseline policy: ${BASELINES.join(' | ')}`, choiceOption('--policy', BASELINES), 'greedy-release')
    .option('--seconds <t>', 'env time to simulate, seconds', numberOption('--seconds'), 10)
    .option('--seed <n>', 'episode seed (arrivals; the random policy)', intOption('--seed', 0), 0)
    .option('--env <id>', 'registered env (topsched env-check lists them)', 'topsched/AsyncInference-v0')
    .option('--cost <spec>', 'cost model of the simulated ops: roofline:<preset> | synthetic[:seed] (default roofline:v100)')
    .option('--streams <n>', 'simulated streams (per context / MPS client in those modes; default 4)', intOption('--streams'))
    .option('--epoch-ms <ms>', 'decision epoch, ms of env time', numberOption('--epoch-ms'), 10)
    .option('--schedule <name>', "the policy's candidate schedule for every model: sequential | greedy | ios-dp (default ios-dp)")
    .option('--batch <n>', "the policy's batch size (one of the env's batchSizes 1, 2, 4, 8)", intOption('--batch'))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched simulate experiments/workloads/two-models.yaml --policy greedy-release --seconds 10\n  topsched simulate experiments/workloads/bursty-four.yaml --policy one-at-a-time --seconds 30 --seed 3 --json\n  topsched simulate w.yaml --policy fixed-frequency --env topsched/AsyncInferenceMPS-v0 --schedule greedy --batch 4',
    )
    .action(async (path: string, opts: SimulateOpts) => {
      const workload = loadWorkloadFile(path);
      const maxSteps = Math.max(1, Math.ceil((opts.seconds * 1000) / opts.epochMs));
      const env = make(opts.env, {
        workload,
        maxSteps,
        epochMs: opts.epochMs,
        ...(opts.cost !== undefined ? { cost: opts.cost } : {}),
        ...(opts.streams !== undefined ? { streams: opts.streams } : {}),
      });
      try {
        if (!(env instanceof AsyncInferenceEnv)) throw new Error(`--env '${opts.env}' is not an AsyncInference env; the baselines drive only those`);
        const policy = makePolicy(opts.policy, env, { seed: opts.seed, schedule: opts.schedule, batch: opts.batch });
        const t0 = performance.now();
        const ep = await runEpisode(env, policy, { seed: opts.seed, seriesEveryMs: 0 });
        const wallS = (performance.now() - t0) / 1000;
        const m = env.metrics();
        const result = {
          workload: workload.name,
          file: path,
          env: opts.env,
          policy: opts.policy,
          seed: opts.seed,
          steps: ep.steps,
          epochMs: opts.epochMs,
          envSeconds: m.timeMs / 1000,
          wallSeconds: wallS,
          return: ep.return,
          metrics: m,
        };
        if (opts.json) return printJson(result);
        console.log(
          `${workload.name} (${workload.models.length} models) on ${opts.env}: ${opts.policy} policy, seed ${opts.seed}, ${(m.timeMs / 1000).toFixed(2)} s of env time (${ep.steps} steps of ${opts.epochMs} ms) in ${wallS.toFixed(2)} s`,
        );
        console.log('');
        console.log(
          table(
            ['metric', 'value'],
            [
              ['throughput', `${m.throughput.toFixed(1)} req/s`],
              ['latency p50 / p95 / p99', `${ms(m.p50Ms)} / ${ms(m.p95Ms)} / ${ms(m.p99Ms)}`],
              ['mean latency', ms(m.meanLatencyMs)],
              ['SLO attainment', pct(m.sloAttainment)],
              ['arrived / completed / dropped', `${m.arrived} / ${m.completed} / ${m.dropped}`],
              ['backlog (queued) / in system', `${m.backlog} / ${m.inSystem}`],
              ['stream utilisation', pct(m.utilisation)],
              ['device memory in use', pct(m.memory)],
              ['episode return', ep.return.toFixed(2)],
            ],
          ),
        );
        console.log('');
        console.log(
          table(
            ['model', 'SLO', 'req/s', 'p95', 'SLO met', 'completed', 'dropped', 'queued'],
            m.models.map((x, i) => [
              x.name,
              ms(workload.models[i].sloMs),
              x.throughput.toFixed(1),
              ms(x.p95Ms),
              pct(x.sloAttainment),
              x.completed,
              x.dropped,
              x.queue,
            ]),
          ),
        );
      } finally {
        env.close();
      }
    });
}
