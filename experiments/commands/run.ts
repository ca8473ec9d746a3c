/**
 * `topsched run`: N concurrent tasks of one model on the native executor (one run() with N items),
 * repeated; prints task latency, throughput and the memory figures (planned arena vs the measured
 * LOAD and the naive no-reuse sum), and optionally a Chrome trace of the last run. Model I/O
 * (`--input name=file.npy`, `--output-dir`, `--check` against onnxruntime-node) is in run-io.ts.
 */

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { median } from '../../env/stats.js';
import { type MemoryMode, type NativeExecutor, type RunReport, runWhileMeasuringThreads } from '../../native/index.js';
import { writeChromeTrace } from '../../native/trace.js';
import { bytes, ms, printJson } from '../format.js';
import { addTargetOptions, type Backend, maxGroups, openExecutor, resolveTarget } from './native-target.js';
import { choiceOption, intOption, numberOption } from './options.js';
import { checkAgainstOrt, checkInputs, inputFileOption, readInputs, writeOutputs } from './run-io.js';

const MEMORY_MODES: readonly MemoryMode[] = ['planned', 'trace', 'caching'];

interface RunOpts {
  backend: Backend;
  schedule: string;
  batch?: number;
  cost?: string;
  timeBudget: number;
  seed: number;
  optimize?: boolean;
  tasks: number;
  streams: number;
  memory: MemoryMode;
  opThreads: number;
  repeat: number;
  warmup: number;
  trace?: string;
  json?: boolean;
  inputShape: Record<string, number[]>;
  inputValue: Record<string, number[]>;
  input: Record<string, string>;
  outputDir?: string;
  check?: boolean;
  atol: number;
  rtol: number;
}

/** A run whose tasks failed is an error naming the first failed task. */
function checkTasks(report: RunReport): RunReport {
  const bad = report.tasks.find((t) => t.error);
  if (bad) throw new Error(`task ${bad.task} (${bad.model}) failed: ${bad.error}`);
  return report;
}

export function registerRun(program: Command): void {
  addTargetOptions(
    program
      .command('run <model>')
      .description('run N concurrent tasks of a model (zoo name, .onnx or .json) on the native executor; report latency, throughput and memory'),
    { optimizeByDefault: true },
  )
    .option('--tasks <n>', 'tasks per run, submitted together (one run() with N items)', intOption('--tasks'), 1)
    .option('--streams <n>', 'streams of the executor', intOption('--streams'), 1)
    .option('--memory <m>', `activation memory: ${MEMORY_MODES.join(' | ')}`, choiceOption('--memory', MEMORY_MODES), 'planned')
    .option('--op-threads <n>', 'threads one op may use', intOption('--op-threads'), 1)
    .option('--repeat <n>', 'measured runs', intOption('--repeat'), 5)
    .option('--warmup <n>', 'runs before measuring (trace memory adds runs until its traces are planned)', intOption('--warmup', 0), 1)
    .option('--trace <file>', 'write a Chrome trace (chrome://tracing, ui.perfetto.dev) of the last run')
    .option(
      '--input <name=file.npy>',
      'a NumPy .npy tensor for a graph input, repeatable (its shape binds a dynamic ONNX input); others use seeded data',
      inputFileOption,
      {},
    )
    .option('--output-dir <dir>', 'write every graph output of the last run as <dir>/<name>.npy')
    .option('--check', 'run onnxruntime-node on the same inputs and compare every output; exit 1 above tolerance')
    .option('--atol <x>', '--check: absolute tolerance', numberOption('--atol', 0), 1e-4)
    .option('--rtol <x>', '--check: relative tolerance', numberOption('--rtol', 0), 1e-3)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched run model.onnx --input images=img.npy --output-dir out --check\n  topsched run squeezenet1_1 --tasks 2 --streams 2 --memory planned --trace sq.json\n  topsched run inception_v3 --schedule greedy --tasks 4 --streams 2 --repeat 10 --json\n  topsched partition resnet50 --out r50.json && topsched run resnet50 --schedule r50.json --memory trace\n  topsched run resnet50 --backend cuda --streams 4 --tasks 8',
    )
    .action(async (spec: string, opts: RunOpts) => {
      const ex = openExecutor({ backend: opts.backend, streams: opts.streams, opThreads: opts.opThreads });
      try {
        await runCommand(ex, spec, opts);
      } finally {
        ex.close();
      }
    });
}

async function runCommand(ex: NativeExecutor, spec: string, opts: RunOpts): Promise<void> {
  // .npy inputs: read first; for an ONNX file their shapes bind its dynamic dims.
  const npy = readInputs(opts.input);
  const shapes = { ...opts.inputShape };
  if (/\.onnx$/i.test(spec))
    for (const [name, t] of Object.entries(npy)) {
      if (shapes[name] && shapes[name].join() !== t.shape.join())
        throw new Error(`--input ${name}=${opts.input[name]} has shape [${t.shape}] but --input-shape gives ${name}=${shapes[name].join(',')}`);
      shapes[name] = t.shape;
    }
  const { graph, schedule, scheduleSource, cost } = resolveTarget(spec, { ...opts, inputShape: shapes });
  const inputs = checkInputs(graph, npy, opts.input);
  const info = ex.info() as { device?: string; dnnl?: string };
  const model = await ex.loadModel(graph, { seed: opts.seed });
  const items = Array.from({ length: opts.tasks }, () => ({ model, schedule, ...(Object.keys(inputs).length ? { inputs } : {}) }));
  const wantOutputs = opts.outputDir !== undefined || !!opts.check;
  const run = async () => checkTasks(await ex.run(items, { memory: opts.memory, outputs: wantOutputs }));

  let warmups = 0;
  let warm: RunReport | undefined;
  for (; warmups < opts.warmup; warmups++) warm = await run();
  // Ops that pick their thread count measure it over their first runs (opThreadChoice 'measure'):
  // measuring then would time both counts in turn.
  if (warm || opts.opThreads > 1) warmups += await runWhileMeasuringThreads(run, warm);
  // Trace memory plans after a few traced runs; measuring before that would time the caching allocator.
  if (opts.memory === 'trace')
    for (let i = 0; i < 16 && !ex.traceState(model, schedule)?.plan && !ex.traceState(model, schedule)?.error; i++, warmups++) await run();

  const reports: RunReport[] = [];
  for (let i = 0; i < opts.repeat; i++) reports.push(await run());
  const last = reports[reports.length - 1];
  const latencies = reports.flatMap((r) => r.tasks.map((t) => t.latencyMs));
  const throughputs = reports.map((r) => (opts.tasks * 1000) / r.wallMs);
  const arena = last.tasks[0].arenaBytes;
  const load = Math.max(...last.tasks.map((t) => t.loadBytes ?? 0));
  const naive = last.tasks[0].naiveBytes;
  const traceState = opts.memory === 'trace' ? ex.traceState(model, schedule) : undefined;
  if (opts.trace) {
    mkdirSync(dirname(opts.trace), { recursive: true });
    writeChromeTrace(opts.trace, last, { title: `topsched run ${graph.name} ×${opts.tasks}` });
  }

  const outputs = last.tasks[0].outputs ?? {};
  const written = opts.outputDir ? writeOutputs(opts.outputDir, model.graph, outputs) : [];
  const checks = opts.check ? await checkAgainstOrt(spec, model, inputs, outputs, { atol: opts.atol, rtol: opts.rtol, inputValues: opts.inputValue }) : null;
  if (checks?.some((c) => !c.ok)) process.exitCode = 1;

  const summary = {
    model: graph.name,
    batch: graph.batch,
    nodes: graph.nodes.length,
    backend: ex.backend,
    device: info.device ?? null,
    schedule: { source: scheduleSource, cost, optimized: !!schedule.optimized, stages: schedule.stages.length, maxGroups: maxGroups(schedule) },
    tasks: opts.tasks,
    streams: opts.streams,
    opThreads: opts.opThreads,
    memoryMode: opts.memory,
    warmup: warmups,
    repeat: opts.repeat,
    latencyMs: { median: median(latencies), min: Math.min(...latencies), max: Math.max(...latencies) },
    queueMs: { median: median(reports.flatMap((r) => r.tasks.map((t) => t.queueMs))) },
    throughput: median(throughputs),
    wallMs: reports.map((r) => r.wallMs),
    memory: {
      arenaBytes: arena,
      loadBytes: load,
      naiveBytes: naive,
      arenaOverLoad: arena !== null && load > 0 ? arena / load : null,
      arenaOverNaive: arena !== null ? arena / naive : null,
      ...last.memory,
      ...(traceState ? { tracePlanned: !!traceState.plan && !traceState.error, traceError: traceState.error ?? null } : {}),
    },
    ...(opts.trace ? { trace: opts.trace } : {}),
    ...(written.length ? { outputs: written } : {}),
    ...(checks ? { check: { atol: opts.atol, rtol: opts.rtol, ok: checks.every((c) => c.ok), outputs: checks } } : {}),
  };
  if (opts.json) return printJson(summary);
  const where = [info.device, info.dnnl ? `oneDNN ${info.dnnl}` : ''].filter(Boolean).join(', ');
  console.log(`${graph.name} (batch ${graph.batch}, ${graph.nodes.length} ops) on ${ex.backend}${where ? ` (${where})` : ''}`);
  console.log(
    `  schedule   ${scheduleSource}${cost ? ` under ${cost}` : ''} on the ${schedule.optimized ? 'optimised' : 'imported'} graph: ${schedule.stages.length} stages, up to ${summary.schedule.maxGroups} concurrent groups`,
  );
  console.log(
    `  runs       ${opts.repeat} × ${opts.tasks} task${opts.tasks > 1 ? 's' : ''} after ${warmups} warm-up, ${opts.streams} stream${opts.streams > 1 ? 's' : ''}, ${opts.opThreads} op thread${opts.opThreads > 1 ? 's' : ''}, ${opts.memory} memory`,
  );
  console.log(
    `  latency    median ${ms(summary.latencyMs.median)} per task (min ${ms(summary.latencyMs.min)}, max ${ms(summary.latencyMs.max)}; queued ${ms(summary.queueMs.median)})`,
  );
  console.log(`  throughput ${summary.throughput.toFixed(1)} tasks/s (median run ${ms(median(summary.wallMs))} wall)`);
  const ratio = (v: number | null) => (v === null ? '-' : v.toFixed(3));
  console.log(
    `  memory     arena ${arena === null ? '-' : bytes(arena)}  LOAD ${bytes(load)}  naive ${bytes(naive)} per task  (arena/LOAD ${ratio(summary.memory.arenaOverLoad)}, arena/naive ${ratio(summary.memory.arenaOverNaive)})`,
  );
  console.log(`  executor   arena pool ${bytes(last.memory.arenaPoolBytes)}, caching allocator peak reserved ${bytes(last.memory.cachingPeakReservedBytes)}`);
  if (traceState?.error) console.log(`  trace plan refused (runs stayed on the caching allocator): ${traceState.error}`);
  if (opts.trace) console.log(`  wrote ${opts.trace}`);
  if (written.length) console.log(`  outputs    wrote ${written.join(', ')}`);
  if (checks) {
    console.log(`  check      onnxruntime-node on the same inputs (pass: |a − b| ≤ ${opts.atol} + ${opts.rtol}·|b| everywhere)`);
    for (const c of checks)
      console.log(
        `    ${c.ok ? 'ok  ' : 'FAIL'} ${c.output} [${c.shape}]  max abs ${c.maxAbs.toExponential(2)}  max rel ${c.maxRel.toExponential(2)}${c.mismatched ? `  ${c.mismatched} elements outside` : ''}`,
      );
  }
}
