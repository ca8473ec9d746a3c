/**
 * `npm run bench` / `topsched bench [sections...]`: the project's speed and memory targets, measured
 * side by side in one run and printed as tables with the machine and date. Sections: native, sim,
 * agents, graphs, harness, serve (default: all). Add `--json` for machine-readable output.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../agents/backend.js';
import { benchMaddpg, benchTraining } from '../agents/bench.js';
import type { MaddpgConfig } from '../agents/maddpg.js';
import type { MappoConfig } from '../agents/mappo.js';
import { benchSimulator } from '../env/bench.js';
import { benchImport, benchPlanner } from '../graphs/bench.js';
import { optimizeGraph } from '../graphs/passes/index.js';
import { ZOO } from '../graphs/zoo/index.js';
import { dispatchOverhead, hybridTable, inceptionComparison, memoryRatios, modelTable, rssDrift, runOverhead, twoBranchSpeedup } from '../native/bench.js';
import { nativeAvailable, planSchedule } from '../native/index.js';
import { bytes, table } from './format.js';
import { benchHarness } from './harness/bench.js';
import { loadSpec } from './harness/spec.js';
import { machineLine } from './machine.js';
import { benchServe } from './serve/bench.js';

export const BENCH_SECTIONS = ['native', 'sim', 'agents', 'graphs', 'harness', 'serve'] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

export interface BenchOptions {
  sections?: BenchSection[];
  /** RSS drift runs (the target is 10,000). */
  leakRuns?: number;
  print?: (text: string) => void;
}

const target = (ok: boolean) => (ok ? 'met' : 'MISSED');

async function benchNative(print: (t: string) => void, leakRuns: number): Promise<Record<string, unknown>> {
  if (!nativeAvailable()) {
    print('native: addon not built (npm run build:native) — skipped');
    return { skipped: 'addon not built' };
  }
  // The leak check runs first, in a process that has loaded nothing else, so RSS reflects the executor alone.
  const leak = await rssDrift({ runs: leakRuns });
  const dispatch = await dispatchOverhead();
  const branch = await twoBranchSpeedup();
  const inc = await inceptionComparison();
  const overhead = await runOverhead();
  print(
    table(
      ['native executor (cpu)', 'measured', 'target', ''],
      [
        ['(a) dispatch overhead, chain of 2000 tiny ops', `${dispatch.usPerOp.toFixed(2)} µs/op`, '≤ 0.5 µs/op', target(dispatch.usPerOp <= 0.5)],
        [
          '(f) per-run overhead, one-op model: run() to resolved Promise',
          `${overhead.endToEndUs.toFixed(1)} µs (reported latency ${overhead.reportedUs.toFixed(1)} µs; onnxruntime-node ${overhead.ortUs.toFixed(1)} µs)`,
          '≤ 50 µs',
          target(overhead.endToEndUs <= 50),
        ],
        [
          '(b) two-branch graph, 2 streams vs 1',
          `${branch.speedup.toFixed(2)}× (${branch.oneStreamMs.toFixed(2)} → ${branch.twoStreamsMs.toFixed(2)} ms)`,
          '≥ 1.7×',
          target(branch.speedup >= 1.7),
        ],
      ],
    ),
  );
  print('');
  print(
    `(e) RSS over ${leak.runs} squeezenet1_1 runs after 500 warm-up runs: ${leak.rssStartMiB.toFixed(1)} → ${leak.rssEndMiB.toFixed(1)} MiB (${leak.driftKiBPer1000Runs.toFixed(1)} KiB per 1000 runs)`,
  );
  print('');
  const base = inc.seq1Thread.medianMs;
  print(
    table(
      ['(c) Inception-v3, batch 1', 'median ms', 'vs sequential 1-thread'],
      [
        ['sequential, 1 stream, ops 1-threaded', inc.seq1Thread.medianMs.toFixed(2), '1.00×'],
        ['sequential, 1 stream, ops 2-threaded', inc.seq2Threads.medianMs.toFixed(2), `${(base / inc.seq2Threads.medianMs).toFixed(2)}×`],
        [`ios-dp (${inc.iosStages} stages), 2 streams`, inc.iosDp2Streams.medianMs.toFixed(2), `${(base / inc.iosDp2Streams.medianMs).toFixed(2)}×`],
        ['onnxruntime-node, 2 intra-op threads', inc.ort2Threads.medianMs.toFixed(2), `${(base / inc.ort2Threads.medianMs).toFixed(2)}×`],
      ],
    ),
  );
  print('');
  const mem = await memoryRatios(planSchedule, Object.keys(ZOO));
  print(
    table(
      ['(d) memory, sequential schedule', 'arena', 'LOAD', 'naive', 'arena/LOAD', 'arena/naive', 'caching reserved'],
      mem.map((m) => [
        m.model,
        bytes(m.arenaBytes),
        bytes(m.loadBytes),
        bytes(m.naiveBytes),
        m.arenaOverLoad.toFixed(3),
        m.arenaOverNaive.toFixed(3),
        bytes(m.cachingReservedBytes),
      ]),
    ),
  );
  const worst = Math.max(...mem.map((m) => m.arenaOverLoad));
  print(`worst arena/LOAD ${worst.toFixed(3)} (target ≤ 1.02: ${target(worst <= 1.02)})`);
  print('');
  const models = await modelTable({ optimize: (g) => optimizeGraph(g).graph });
  print(
    table(
      ['(g) model, batch, threads', "topsched's best variant", 'ms', 'onnxruntime-node ms', 'ratio', 'target ≤ 1.0'],
      models.rows.map((r) => [
        `${r.model}, batch ${r.batch}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`,
        r.best,
        r.bestMs.toFixed(2),
        r.ortMs.toFixed(2),
        `${r.ratio.toFixed(2)}×`,
        target(r.ratio <= 1),
      ]),
    ),
  );
  for (const t of [1, 2])
    print(
      `geometric mean of the ratios, ${t} thread${t > 1 ? 's' : ''}: ${models.geomean[t].toFixed(2)}× (target ≤ 0.9×: ${target(models.geomean[t] <= 0.9)})`,
    );
  print('');
  const hybrid = await hybridTable({ optimize: (g) => optimizeGraph(g).graph });
  print(
    table(
      [
        '(h) hybrid, batch 1, 2 cores',
        'sequential 1-thread ms',
        'sequential 2-thread ms',
        'hybrid (roofline) ms',
        'hybrid (measured) ms',
        'best hybrid ÷ best sequential',
        'target ≤ 1.0',
      ],
      hybrid.map((r) => [
        r.model,
        r.variants['sequential, 1-thread ops'].toFixed(2),
        r.variants['sequential, 2-thread ops'].toFixed(2),
        r.variants['hybrid ios-dp (roofline), 2 streams'].toFixed(2),
        r.variants['hybrid ios-dp (measured), 2 streams'].toFixed(2),
        `${r.ratio.toFixed(2)}×`,
        target(r.ratio <= 1),
      ]),
    ),
  );
  print('');
  return { dispatch, runOverhead: overhead, branch, inception: inc, memory: mem, leak, models, hybrid };
}

function benchSim(print: (t: string) => void): Record<string, unknown> {
  const runs = [benchSimulator({ mode: 'streams' }), benchSimulator({ mode: 'streams' }), benchSimulator({ mode: 'streams' })];
  const best = runs.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
  print(
    table(
      ['simulator (one core)', 'measured', 'target', ''],
      [
        [
          `op events/s, ${best.models.length}-model workload, ${best.tasks} tasks, best of 3`,
          `${(best.eventsPerSec / 1e6).toFixed(2)} M`,
          '≥ 2 M',
          target(best.eventsPerSec >= 2e6),
        ],
      ],
    ),
  );
  return { simulator: runs };
}

async function benchAgents(print: (t: string) => void): Promise<Record<string, unknown>> {
  const rows = await benchMaddpg({ backends: ['cpu', 'wasm'], actSteps: 2000, updates: 10 });
  print(
    table(
      ['MADDPG training (openai sizes: batch 1024, 2×64)', 'backend', 'ms/update', 'train steps/s', 'env steps/s'],
      rows.map((r) => [`${r.agents} agents`, r.backend, r.msPerUpdate.toFixed(1), r.trainStepsPerSec.toFixed(0), r.envStepsPerSec.toFixed(0)]),
    ),
  );
  // Training throughput on the adaptation experiment's env settings (its MADDPG and MAPPO configs).
  await initBackend('wasm', { log: () => {} });
  const spec = loadSpec(fileURLToPath(new URL('../../experiments/specs/adaptation.yaml', import.meta.url)));
  const mappo = spec.learners.mappo;
  const training = await benchTraining({
    envId: 'topsched/AsyncInference-v0',
    envOptions: { ...spec.env, loadFeatures: true },
    maddpg: spec.learned.agent as Partial<MaddpgConfig>,
    mappo: (mappo?.agent ?? {}) as Partial<MappoConfig>,
    numEnvs: mappo?.envs ?? 8,
  });
  print(
    table(
      ['AsyncInference (adaptation settings)', 'algorithm', 'vector', 'envs', 'env steps/s', '× MADDPG training', 'target'],
      training.map((r) => [
        r.what,
        r.algorithm,
        r.vector,
        String(r.numEnvs),
        r.stepsPerSec.toFixed(0),
        r.vsMaddpg.toFixed(1),
        r.algorithm === 'mappo' ? `≥ 10× ${target(r.vsMaddpg >= 10)}` : '',
      ]),
    ),
  );
  return { maddpg: rows, training };
}

function benchGraphs(print: (t: string) => void): Record<string, unknown> {
  const rows = benchPlanner();
  print(
    table(
      ['long graphs (greedy schedule)', 'nodes', 'infer ms', 'partition ms', 'plan ms', 'plan µs/node', 'arena/LOAD'],
      rows.map((r) => [
        r.graph,
        String(r.nodes),
        r.inferMs.toFixed(0),
        r.partitionMs.toFixed(0),
        r.planMs.toFixed(0),
        r.planUsPerNode.toFixed(1),
        r.arenaOverLoad.toFixed(3),
      ]),
    ),
  );
  const big = rows.filter((r) => r.nodes === 50_000);
  const small = rows.filter((r) => r.nodes === 5_000);
  const growth = Math.max(...big.map((b, i) => b.planUsPerNode / small[i].planUsPerNode));
  print(`planning time per node, 50k vs 5k nodes: ${growth.toFixed(2)}× (O(n log n) keeps it near 1; a quadratic planner gives ~10×)`);
  const imp = benchImport(50_000);
  print(
    `ONNX import of a ${imp.onnxNodes}-node exporter-style file (${(imp.bytes / 1e6).toFixed(1)} MB, shape subgraphs folded to ${imp.irNodes} IR nodes): ${imp.importMs.toFixed(0)} ms (target ≤ 5000 ms: ${imp.importMs <= 5000 ? 'met' : 'missed'})`,
  );
  return { planner: rows, perNodeGrowth: growth, import: imp };
}

async function benchHarnessSection(print: (t: string) => void): Promise<Record<string, unknown>> {
  const file = fileURLToPath(new URL('../../experiments/workloads/adaptation/flash-crowd.yaml', import.meta.url));
  const b = await benchHarness(existsSync(file) ? file : 'experiments/workloads/adaptation/flash-crowd.yaml', { rounds: 11 });
  print(
    table(
      ['evaluation harness (flash-crowd, 3 models, 1200 req/s)', 'measured', 'target', ''],
      [
        [
          `runEpisode vs bare env.step loop, ${b.steps} steps, best of 11`,
          `${(b.overhead * 100).toFixed(1)} % (${b.bareMs.toFixed(0)} → ${b.harnessMs.toFixed(0)} ms)`,
          '≤ 5 %',
          target(b.overhead <= 0.05),
        ],
      ],
    ),
  );
  return { harness: b };
}

async function benchServeSection(print: (t: string) => void): Promise<Record<string, unknown>> {
  if (!nativeAvailable()) {
    print('serve: addon not built (npm run build:native) — skipped');
    return { skipped: 'addon not built' };
  }
  const r = await benchServe();
  const a = r.overhead;
  const t = r.throughput;
  print(
    table(
      ['serve (KServe v2 over loopback, load generator in its own process)', 'measured', 'target', ''],
      [
        [
          `(a) p50 added over the in-process real-time env: ${a.model}, Poisson ${a.rate} req/s, greedy-release`,
          `${a.addedP50Ms >= 0 ? '+' : ''}${a.addedP50Ms.toFixed(2)} ms (p50 ${a.envP50Ms.toFixed(2)} → ${a.serveP50Ms.toFixed(2)} ms; p95 ${a.envP95Ms.toFixed(2)} → ${a.serveP95Ms.toFixed(2)} ms)`,
          '≤ 1 ms',
          target(a.addedP50Ms <= 1),
        ],
        [
          `(b) one-operator model, closed loop of ${t.concurrency} clients, ${t.seconds} s`,
          `${t.reqPerS.toFixed(0)} req/s, ${t.failures} failures (p50 ${t.p50Ms.toFixed(2)} ms, p99 ${t.p99Ms.toFixed(2)} ms; server queue ${t.serverQueueUs?.toFixed(0) ?? '-'} µs, compute ${t.serverComputeUs?.toFixed(0) ?? '-'} µs)`,
          '≥ 5000 req/s, 0 failures',
          target(t.reqPerS >= 5000 && t.failures === 0),
        ],
      ],
    ),
  );
  return { serve: r };
}

export async function runBench(opts: BenchOptions = {}): Promise<Record<string, unknown>> {
  const sections = opts.sections?.length ? opts.sections : [...BENCH_SECTIONS];
  const print = opts.print ?? ((t: string) => console.log(t));
  print(`topsched bench — ${machineLine()}`);
  const out: Record<string, unknown> = {};
  for (const s of sections) {
    print('');
    if (s === 'native') out.native = await benchNative(print, opts.leakRuns ?? 10_000);
    else if (s === 'sim') out.sim = benchSim(print);
    else if (s === 'graphs') out.graphs = benchGraphs(print);
    else if (s === 'harness') out.harness = await benchHarnessSection(print);
    else if (s === 'serve') out.serve = await benchServeSection(print);
    else out.agents = await benchAgents(print);
  }
  return out;
}

// `node dist/experiments/bench.js [native|sim|agents ...] [--json]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const sections = args.filter((a) => !a.startsWith('--')) as BenchSection[];
  for (const s of sections) if (!BENCH_SECTIONS.includes(s)) throw new Error(`unknown bench section '${s}' (${BENCH_SECTIONS.join(', ')})`);
  const result = await runBench({ sections, print: json ? () => {} : undefined });
  if (json) console.log(JSON.stringify(result, null, 2));
}
