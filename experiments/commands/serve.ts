/**
 * `topsched serve <models…> --policy <run-dir|baseline>`: a KServe v2 / Triton HTTP server whose
 * requests are scheduled by a trained policy (or a baseline) on the real-time native executor.
 * `topsched load <url> --model m`: the load generator to drive it (experiments/serve/load.ts).
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../../agents/backend.js';
import { loadMaddpg, loadMappo } from '../../agents/checkpoint.js';
import type { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import type { AsyncInferenceOptions } from '../../env/options.js';
import type { Policy } from '../../env/policy.js';
import { writeFileAtomic } from '../../graphs/atomic-write.js';
import { resolveModel } from '../../graphs/models.js';
import { EVAL_BASELINES } from '../config/schema.js';
import { printJson, table } from '../format.js';
import { ServingEngine } from '../serve/engine.js';
import { type LoadMode, loadCsv, runLoad } from '../serve/load.js';
import { createServer } from '../serve/server.js';
import { agentPolicy, baselinePolicy, envOptions, locateRun, mappoVector } from './eval.js';
import { INPUT_SHAPE_HELP, INPUT_VALUE_HELP, inputShapeOption, inputValueOption, intOption, numberOption } from './options.js';

interface ServeCliOpts {
  policy: string;
  port: number;
  host: string;
  streams?: number;
  epochMs?: number;
  slo: number;
  rate: number;
  batchSizes?: string;
  maxQueue: number;
  inputShape: Record<string, number[]>;
  inputValue: Record<string, number[]>;
  seed: number;
}

const intList = (s: string, name: string): number[] =>
  s.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected positive integers separated by commas, got '${s}'`);
    return n;
  });

/** The engine's env options and policy for `--policy` (a run dir, or a baseline over the given models). */
async function servePlan(
  models: string[],
  o: ServeCliOpts,
): Promise<{ env: AsyncInferenceOptions; policy: (env: AsyncInferenceEnv) => Promise<Policy> | Policy; label: string }> {
  if ((EVAL_BASELINES as readonly string[]).includes(o.policy)) {
    if (!models.length) throw new Error(`serve: name the models to serve (zoo names or .onnx files) with a baseline policy '${o.policy}'`);
    const graphs: Record<string, ReturnType<typeof resolveModel>> = {};
    const names = models.map((spec) => {
      const g = resolveModel(spec, { batch: 1, inputShapes: o.inputShape, inputValues: o.inputValue });
      const name = /\.(onnx|json)$/i.test(spec) ? basename(spec).replace(/\.(onnx|json)$/i, '') : spec;
      if (graphs[name]) throw new Error(`serve: model '${name}' is given twice`);
      graphs[name] = g;
      return name;
    });
    const env: AsyncInferenceOptions = {
      workload: { name: 'serve', models: names.map((name) => ({ name, sloMs: o.slo, maxQueue: o.maxQueue, arrival: { kind: 'poisson', rate: o.rate } })) },
      graphs,
      streams: o.streams ?? 2,
      epochMs: o.epochMs ?? 10,
      ...(o.batchSizes ? { batchSizes: intList(o.batchSizes, '--batch-sizes') } : {}),
    };
    return { env, policy: (e) => baselinePolicy(o.policy, e, o.seed), label: o.policy };
  }
  let run: ReturnType<typeof locateRun>;
  try {
    run = locateRun(o.policy);
  } catch (e) {
    throw new Error(`--policy: '${o.policy}' is neither a baseline (${EVAL_BASELINES.join(', ')}) nor a run: ${(e as Error).message}`);
  }
  const { config, checkpoint } = run;
  const env = envOptions(config, 'native');
  const trained = ((env.workload as { models?: { name: string }[] } | undefined)?.models ?? []).map((m) => m.name);
  if (models.length && models.join(',') !== trained.join(','))
    throw new Error(`serve: the run was trained on models [${trained.join(', ')}]; serve those (or name none), got [${models.join(', ')}]`);
  if (o.streams !== undefined && o.streams !== (env.streams ?? 4))
    throw new Error(`serve: the run's policy observes ${env.streams ?? 4} streams; --streams ${o.streams} would change its observations`);
  if (o.batchSizes) throw new Error(`serve: --batch-sizes is the trained run's (its scheduler chooses among them)`);
  if (o.epochMs !== undefined) env.epochMs = o.epochMs;
  await initBackend(config.train.backend as Parameters<typeof initBackend>[0], { log: () => {} });
  const policy = async (e: AsyncInferenceEnv): Promise<Policy> => {
    if (config.algorithm === 'mappo') {
      const vec = await mappoVector({ ...config, mappo: { ...config.mappo, vector: 'sync' } });
      return agentPolicy(loadMappo(checkpoint, vec), 'mappo');
    }
    return agentPolicy(loadMaddpg(checkpoint, e), config.algorithm);
  };
  return { env, policy, label: `${config.algorithm} (${run.runDir})` };
}

export function registerServe(program: Command): void {
  program
    .command('serve [models...]')
    .description(
      'serve models over the KServe v2 / Triton HTTP protocol, scheduled by a trained policy or a baseline on the real-time native executor; Prometheus metrics on /metrics',
    )
    .requiredOption('--policy <run-dir|baseline>', `a trained run (its latest checkpoint) or a baseline: ${EVAL_BASELINES.join(', ')}`)
    .option('--port <n>', 'port (0: any free one)', intOption('--port', 0), 8000)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--streams <n>', "executor streams (default 2; a run's own)", intOption('--streams'))
    .option('--epoch-ms <ms>', "decision epoch (default 10; a run's own)", numberOption('--epoch-ms', 0.1))
    .option('--slo <ms>', 'latency SLO of each model (baselines; observations scale by it)', numberOption('--slo', 0.001), 100)
    .option('--rate <req/s>', 'expected request rate of each model (baselines; observations scale by it)', numberOption('--rate', 0.001), 100)
    .option('--batch-sizes <list>', 'batch sizes the scheduler may form (baselines), e.g. 1,2,4,8')
    .option('--max-queue <n>', 'requests waiting per model before the server answers 503', intOption('--max-queue'), 1024)
    .option('--input-shape <name=dims>', INPUT_SHAPE_HELP, inputShapeOption, {})
    .option('--input-value <name=values>', INPUT_VALUE_HELP, inputValueOption, {})
    .option('--seed <n>', 'seed of the policy and of generated weights', intOption('--seed', 0), 0)
    .addHelpText(
      'after',
      '\nExamples:\n  topsched serve squeezenet1_1 mobilenet_v2 --policy greedy-release --port 8000\n  topsched serve --policy runs/two-models_1a2b3c4d_seed0\n  topsched load http://127.0.0.1:8000 --model squeezenet1_1 --rate 200 --duration 10',
    )
    .action(async (models: string[], o: ServeCliOpts) => {
      const plan = await servePlan(models, o);
      const engine = new ServingEngine({ env: plan.env, policy: plan.policy, seed: o.seed });
      const server = createServer({ engine, version: program.version() });
      await engine.start();
      const address = await server.listen(o.port, o.host);
      console.log(
        `serving ${engine.env.models.map((m) => m.name).join(', ')} on ${address} (policy ${plan.label}, ${engine.env.executor.streamSlots} streams, epoch ${engine.env.epochMs} ms); metrics on ${address}/metrics`,
      );
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          console.log(`${sig}: draining ${engine.pending()} request(s) in flight`);
          server.close().then(resolve, (e) => {
            console.error(`error while draining: ${(e as Error).message}`);
            process.exitCode = 1;
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      const st = engine.env.clockStats();
      if (st)
        console.log(
          `stopped after ${st.epochs} decision epochs (${st.overruns} overran; timers ${(st.lateMsTotal / Math.max(1, st.epochs)).toFixed(2)} ms late on average)`,
        );
    });

  program
    .command('load <url>')
    .description(
      "a load generator for a KServe v2 server on loopback: open loop (Poisson or a replayed trace at a rate) or closed loop (N concurrent clients); prints throughput, latency percentiles and the server's queue vs compute time",
    )
    .requiredOption('--model <name>', 'the model to load')
    .option('--rate <req/s>', 'open loop: mean request rate', numberOption('--rate', 0.001))
    .option('--trace <file>', 'open loop: replay this request log (a time column per row, e.g. ../shared/traces/azure-llm-2023/code.csv) rescaled to --rate')
    .option('--concurrency <n>', 'closed loop: concurrent clients', intOption('--concurrency'))
    .option('--duration <s>', 'measured seconds', numberOption('--duration', 0.001), 10)
    .option('--warmup <s>', 'seconds sent before measuring', numberOption('--warmup', 0), 1)
    .option('--binary', 'send inputs with the binary tensor data extension')
    .option('--seed <n>', 'seed of the arrivals and input values', intOption('--seed', 0), 0)
    .option('--csv <file>', 'also write perf_analyzer-style CSV (latencies in µs)')
    .option('--json', 'print JSON')
    .action(
      async (
        url: string,
        o: {
          model: string;
          rate?: number;
          trace?: string;
          concurrency?: number;
          duration: number;
          warmup: number;
          binary?: boolean;
          seed: number;
          csv?: string;
          json?: boolean;
        },
      ) => {
        let mode: LoadMode;
        if (o.concurrency !== undefined) {
          if (o.rate !== undefined || o.trace !== undefined) throw new Error('load: --concurrency (closed loop) excludes --rate and --trace (open loop)');
          mode = { kind: 'closed', concurrency: o.concurrency };
        } else if (o.rate === undefined) throw new Error('load: give --rate (open loop, with --trace to replay a log) or --concurrency (closed loop)');
        else mode = o.trace ? { kind: 'replay', path: o.trace, rate: o.rate } : { kind: 'poisson', rate: o.rate };
        const r = await runLoad({ url, model: o.model, mode, durationS: o.duration, warmupS: o.warmup, seed: o.seed, binary: o.binary });
        if (o.csv) writeFileAtomic(o.csv, loadCsv(r));
        if (o.json) return printJson(r);
        const f = (x: number | null, d = 2) => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));
        console.log(
          table(
            ['load', 'throughput req/s', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'failures', 'server queue µs', 'server compute µs'],
            [
              [
                mode.kind === 'closed' ? `concurrency ${mode.concurrency}` : `${mode.kind} ${mode.rate}/s`,
                r.throughput.toFixed(1),
                f(r.p50Ms),
                f(r.p90Ms),
                f(r.p95Ms),
                f(r.p99Ms),
                `${r.failures}${
                  r.failures
                    ? ` (${Object.entries(r.failuresBy)
                        .map(([k, v]) => `${k}: ${v}`)
                        .join(', ')})`
                    : ''
                }`,
                f(r.serverQueueUs, 0),
                f(r.serverComputeUs, 0),
              ],
            ],
          ),
        );
        if (o.csv) console.log(`wrote ${o.csv}`);
      },
    );
}
