/**
 * `topsched bench serve`: what the server costs on top of the engine it fronts, measured side by
 * side in one run.
 *
 *  (a) Overhead: the same model, Poisson rate, policy (greedy-release, batch 1) and epochs run
 *      twice — in process on the real-time native env (runEpisode), and through `serve` driven by
 *      `topsched load` in a separate process (binary tensors over loopback HTTP). Target: the
 *      server adds ≤ 1 ms to p50.
 *  (b) Throughput: a one-operator model served with greedy release (every request queued is
 *      released each 1 ms epoch, batched up to 128) under a closed loop of 128 clients in a
 *      separate process. Target: ≥ 5,000 req/s with no failures on 2 cores.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AsyncInferenceEnv } from '../../env/async-inference-env.js';
import { greedyReleasePolicy, makePolicy } from '../../env/policies.js';
import { GraphBuilder } from '../../graphs/builder.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { runEpisode } from '../harness/episode.js';
import { ServingEngine } from './engine.js';
import type { LoadReport } from './load.js';
import { createServer } from './server.js';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** `topsched load … --json` in a child process (so client and server do not share an event loop). */
function loadInChild(args: string[]): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'load', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`topsched load exited ${code}: ${err.trim() || out.trim()}`));
      else resolve(JSON.parse(out) as LoadReport);
    });
  });
}

export interface ServeBench {
  overhead: { model: string; rate: number; seconds: number; envP50Ms: number; serveP50Ms: number; addedP50Ms: number; envP95Ms: number; serveP95Ms: number };
  throughput: {
    concurrency: number;
    seconds: number;
    reqPerS: number;
    failures: number;
    p50Ms: number;
    p99Ms: number;
    serverQueueUs: number | null;
    serverComputeUs: number | null;
  };
}

export async function benchServe(o: { seconds?: number; streams?: number } = {}): Promise<ServeBench> {
  const seconds = o.seconds ?? 6;
  // (a) squeezenet1_1 at 40 req/s on 1 stream (a core left for the event loops of server and client), 10 ms epochs.
  const name = 'squeezenet1_1';
  const rate = 40;
  const common = {
    workload: { name: 'bench-serve', models: [{ name, sloMs: 100, arrival: { kind: 'poisson', rate } }] },
    graphs: { [name]: buildModel(name, { batch: 1 }) },
    streams: o.streams ?? 1,
    epochMs: 10,
    batchSizes: [1],
  };
  const env = new AsyncInferenceEnv({ ...common, executor: 'native', clock: 'wall', maxSteps: 0 });
  const inProcess = await runEpisode(env, greedyReleasePolicy(env), { seed: 0, untilMs: (seconds + 1) * 1000, warmupS: 1, seriesEveryMs: 0 });
  await env.executor.settle?.();
  env.close();
  const engine = new ServingEngine({ env: common, policy: (e) => makePolicy('greedy-release', e) });
  const server = createServer({ engine });
  await engine.start();
  const url = await server.listen(0);
  let served: LoadReport;
  try {
    served = await loadInChild([url, '--model', name, '--rate', String(rate), '--duration', String(seconds), '--warmup', '1', '--binary']);
  } finally {
    await server.close();
  }

  // (b) one Relu on 64 floats, greedy release of everything queued, batches up to 128.
  const b = new GraphBuilder('relu64');
  b.output(b.relu(b.input('x', [1, 64])));
  const tiny = b.build();
  const engine2 = new ServingEngine({
    env: {
      workload: { name: 'bench-serve-one-op', models: [{ name: 'relu64', sloMs: 10, maxQueue: 4096, arrival: { kind: 'poisson', rate: 5000 } }] },
      graphs: { relu64: tiny },
      streams: 2,
      epochMs: 1,
      levels: [0, 1, 4, 16, 64, 256],
      batchSizes: [1, 8, 32, 128],
    },
    policy: (e) => makePolicy('greedy-release', e),
  });
  const server2 = createServer({ engine: engine2 });
  await engine2.start();
  const url2 = await server2.listen(0);
  const concurrency = 128;
  let closed: LoadReport;
  try {
    closed = await loadInChild([url2, '--model', 'relu64', '--concurrency', String(concurrency), '--duration', String(seconds), '--warmup', '1', '--binary']);
  } finally {
    await server2.close();
  }
  return {
    overhead: {
      model: name,
      rate,
      seconds,
      envP50Ms: inProcess.p50Ms,
      serveP50Ms: served.p50Ms,
      addedP50Ms: served.p50Ms - inProcess.p50Ms,
      envP95Ms: inProcess.p95Ms,
      serveP95Ms: served.p95Ms,
    },
    throughput: {
      concurrency,
      seconds,
      reqPerS: closed.throughput,
      failures: closed.failures,
      p50Ms: closed.p50Ms,
      p99Ms: closed.p99Ms,
      serverQueueUs: closed.serverQueueUs,
      serverComputeUs: closed.serverComputeUs,
    },
  };
}
