/**
 * Model (weight) sharing: N concurrent tasks of one model either share one loaded copy of its
 * weights (the native executor's default: one ModelHandle, N run items) or each get their own
 * instance (the model loaded N times, one item per handle). Measured on the native CPU executor:
 * the bytes held (weights + the arena pool with all N tasks in flight), the process RSS growth,
 * and the throughput of a closed loop; then how many concurrent tasks fit a memory budget.
 */
import { cpus, loadavg } from 'node:os';
import { weightBytes } from '../../env/models.js';
import { sequentialSchedule } from '../../graphs/schedule.js';
import { buildModel } from '../../graphs/zoo/index.js';
import { type ModelHandle, NativeExecutor, planSchedule } from '../../native/index.js';
import { bytes, table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { lineChart, type PlotSpec, plotMarkdown, writePlot } from '../plot.js';

export interface ModelSharingOptions {
  out?: string;
  log?: (line: string) => void;
  /** Zoo models, batch 1. Default squeezenet1_1, mobilenet_v2, resnet50. */
  models?: string[];
  /** Concurrent tasks. Default [1, 2, 4, 8]. */
  counts?: number[];
  /** Timed rounds (all N tasks once) after one warm-up round. Default 3. */
  rounds?: number;
  /** Memory budgets, MiB. Default [512, 2048]. */
  budgetsMiB?: number[];
}

export interface SharingRow {
  model: string;
  tasks: number;
  sharing: boolean;
  /** Loaded weight bytes: one copy with sharing, N without. */
  weightBytes: number;
  /** The executor's arena pool with N tasks in flight (one arena per task). */
  arenaPoolBytes: number;
  /** weights + arena pool. */
  deviceBytes: number;
  /** Process RSS growth over loading and running (JS handles hold a copy of the weights too). */
  rssDeltaBytes: number;
  /** Tasks per second over the timed rounds. */
  throughput: number;
  loadMs: number;
}

export interface ModelSharingResult {
  rows: SharingRow[];
  /** Per model: weights and one task's planned arena, and the tasks that fit each budget. */
  fit: { model: string; weightBytes: number; arenaBytes: number; budgets: { budgetMiB: number; shared: number; unshared: number }[] }[];
  budgetsMiB: number[];
}

const MiB = 2 ** 20;

/** Concurrent tasks that fit `budget`: one weights copy and N arenas, or N of both. */
export function tasksInBudget(budget: number, weights: number, arena: number, sharing: boolean): number {
  if (sharing) return budget < weights ? 0 : Math.floor((budget - weights) / arena);
  return Math.floor(budget / (weights + arena));
}

/** One configuration: N tasks of `name` with one shared instance or N instances, N streams. */
export async function runSharing(name: string, n: number, sharing: boolean, rounds: number): Promise<SharingRow> {
  const g = buildModel(name, { batch: 1 });
  const schedule = sequentialSchedule(g);
  const rss0 = process.memoryUsage.rss();
  // N streams: all N tasks run (and hold their arenas) at once, as N concurrent clients would.
  const ex = new NativeExecutor({ streams: n });
  try {
    const t0 = performance.now();
    const handles: ModelHandle[] = [];
    for (let i = 0; i < (sharing ? 1 : n); i++) handles.push(await ex.loadModel(g));
    const loadMs = performance.now() - t0;
    const items = Array.from({ length: n }, (_, i) => ({ model: handles[sharing ? 0 : i], schedule }));
    let pool = 0;
    let timed = 0;
    for (let r = 0; r < rounds + 1; r++) {
      const t1 = performance.now();
      const rep = await ex.run(items, { memory: 'planned' });
      if (r > 0) timed += performance.now() - t1;
      pool = Math.max(pool, rep.memory.arenaPoolBytes);
    }
    const rss1 = process.memoryUsage.rss();
    const w = weightBytes(g) * handles.length;
    return {
      model: name,
      tasks: n,
      sharing,
      weightBytes: w,
      arenaPoolBytes: pool,
      deviceBytes: w + pool,
      rssDeltaBytes: rss1 - rss0,
      throughput: (n * rounds) / (timed / 1000),
      loadMs,
    };
  } finally {
    ex.close();
  }
}

export async function modelSharing(o: ModelSharingOptions = {}): Promise<{ result: ModelSharingResult; md: string }> {
  const log = o.log ?? (() => {});
  const models = o.models ?? ['squeezenet1_1', 'mobilenet_v2', 'resnet50'];
  const counts = o.counts ?? [1, 2, 4, 8];
  const rounds = o.rounds ?? 3;
  const budgetsMiB = o.budgetsMiB ?? [512, 2048];
  const rows: SharingRow[] = [];
  for (const name of models)
    for (const n of counts)
      for (const sharing of [true, false]) {
        // One task: both settings are the same configuration, measured once.
        if (n === 1 && !sharing) {
          rows.push({ ...(rows[rows.length - 1] as SharingRow), sharing: false });
          continue;
        }
        const r = await runSharing(name, n, sharing, rounds);
        rows.push(r);
        log(
          `model-sharing: ${name} N=${n} ${sharing ? 'shared' : 'unshared'}: ${bytes(r.deviceBytes)}, RSS +${bytes(r.rssDeltaBytes)}, ${r.throughput.toFixed(1)} tasks/s`,
        );
      }
  const fit = models.map((name) => {
    const g = buildModel(name, { batch: 1 });
    const w = weightBytes(g);
    const arena = planSchedule(g, sequentialSchedule(g)).arenaBytes;
    return {
      model: name,
      weightBytes: w,
      arenaBytes: arena,
      budgets: budgetsMiB.map((B) => ({ budgetMiB: B, shared: tasksInBudget(B * MiB, w, arena, true), unshared: tasksInBudget(B * MiB, w, arena, false) })),
    };
  });
  const result: ModelSharingResult = { rows, fit, budgetsMiB };
  const md = o.out ? await writeMarkdown(result, o.out, { models, counts, rounds }) : '';
  return { result, md };
}

const weightsLabel = (x: SharingRow) => (x.sharing ? 'shared' : 'one copy per task');

/** Colour by model (lineChart's series), dash by sharing: short legends instead of model × setting labels. */
function dashByWeights(spec: PlotSpec): PlotSpec {
  const enc = (spec as { encoding: Record<string, unknown> }).encoding;
  // The dash legend renders without strokes (resvg), so the title says which is which.
  enc.strokeDash = { field: 'weights', type: 'nominal', legend: null, sort: ['one copy per task', 'shared'] };
  return spec;
}

async function writeMarkdown(r: ModelSharingResult, out: string, s: { models: string[]; counts: number[]; rounds: number }): Promise<string> {
  const base = out.replace(/\.md$/, '');
  const thrBase = `${base}-throughput`;
  await writePlot(
    dashByWeights(
      lineChart({
        title: 'Bytes held by N concurrent tasks (solid: one weights copy per task, dashed: shared)',
        data: r.rows.map((x) => ({ tasks: x.tasks, MiB: x.deviceBytes / MiB, model: x.model, weights: weightsLabel(x) })),
        x: { field: 'tasks', title: 'concurrent tasks N', log: true },
        y: { field: 'MiB', title: 'MiB (log)', log: true },
        series: { field: 'model', title: 'model' },
      }),
    ),
    base,
  );
  await writePlot(
    dashByWeights(
      lineChart({
        title: 'Native CPU throughput (solid: one weights copy per task, dashed: shared)',
        data: r.rows.map((x) => ({ tasks: x.tasks, throughput: x.throughput, model: x.model, weights: weightsLabel(x) })),
        x: { field: 'tasks', title: 'concurrent tasks N', log: true },
        y: { field: 'throughput', title: 'tasks / s (log)', log: true },
        series: { field: 'model', title: 'model' },
      }),
    ),
    thrBase,
  );
  const maxN = Math.max(...s.counts);
  const at = (m: string, n: number, sh: boolean) => r.rows.find((x) => x.model === m && x.tasks === n && x.sharing === sh) as SharingRow;
  const md = [
    '# Model sharing: one weights copy for N concurrent tasks vs one instance per task',
    '',
    'N concurrent inference tasks of one model (batch 1, sequential schedule, planned memory) run on the native CPU executor',
    'with N streams, so all N are in flight at once. **Shared**: the model is loaded once and the N tasks use its weights (the',
    "executor's default); **unshared**: the model is loaded N times and each task runs on its own instance. Measured: the bytes",
    'held (loaded weights + the arena pool after the run, one arena per running task), the process RSS growth over loading and',
    `running (it includes the materialized weights each JS handle keeps), and throughput over ${s.rounds} rounds of all N tasks after one`,
    'warm-up round. From one weights copy and one planned arena per model, the concurrent tasks that fit a memory budget:',
    '⌊(budget − weights) / arena⌋ shared, ⌊budget / (weights + arena)⌋ unshared.',
    '',
    `Machine: ${machineLine()}`,
    '',
    'Backend: native CPU executor (oneDNN, N streams, 1 thread per op)',
    '',
    'Command: `npx topsched reproduce model-sharing`',
    '',
    `Settings (scaled down): models ${s.models.join(', ')}; N = ${s.counts.join(', ')}; ${s.rounds} timed rounds. N = 1 is one configuration (shown in both`,
    `series). Throughput is noisy: ${cpus().length} cores shared with other sessions (1-minute load average at the end: ${loadavg()[0].toFixed(1)}). RSS growth is`,
    "noisier still: V8 collects the handles' weight copies and glibc returns freed memory when they choose, so it can even be negative;",
    "the bytes held (counted from the loaded instances and the executor's arena pool) are the exact figure.",
    '',
    '## Bytes and throughput',
    '',
    plotMarkdown('Bytes held', base),
    '',
    plotMarkdown('Throughput', thrBase),
    '',
    '```',
    table(
      ['model', 'N', 'weights copy', 'loaded weights', 'arena pool', 'bytes held', 'RSS growth', 'tasks/s', 'load ms'],
      r.rows.map((x) => [
        x.model,
        x.tasks,
        x.sharing ? 'shared' : 'unshared',
        bytes(x.weightBytes),
        bytes(x.arenaPoolBytes),
        bytes(x.deviceBytes),
        bytes(x.rssDeltaBytes),
        x.throughput.toFixed(1),
        x.loadMs.toFixed(0),
      ]),
    ),
    '```',
    '',
    '## Concurrent tasks in a memory budget',
    '',
    '```',
    table(
      ['model', 'weights', 'arena / task', ...r.budgetsMiB.flatMap((B) => [`${B} MiB shared`, `${B} MiB unshared`])],
      r.fit.map((f) => [f.model, bytes(f.weightBytes), bytes(f.arenaBytes), ...f.budgets.flatMap((b) => [b.shared, b.unshared])]),
    ),
    '```',
    '',
    '## Verdict',
    '',
    `- At N = ${maxN}, sharing holds ${s.models.map((m) => `${m} ${bytes(at(m, maxN, true).deviceBytes)} vs ${bytes(at(m, maxN, false).deviceBytes)} (${(at(m, maxN, false).deviceBytes / at(m, maxN, true).deviceBytes).toFixed(1)}×)`).join(', ')}; the saving is (N − 1) × weights, largest for the models whose weights outweigh their arena.`,
    `- Tasks that fit ${r.budgetsMiB[0]} MiB, shared vs unshared: ${r.fit.map((f) => `${f.model} ${f.budgets[0].shared} vs ${f.budgets[0].unshared}`).join(', ')}.`,
    `- Throughput at N = ${maxN}, shared vs unshared: ${s.models.map((m) => `${m} ${at(m, maxN, true).throughput.toFixed(1)} vs ${at(m, maxN, false).throughput.toFixed(1)} tasks/s`).join(', ')}${thrVerdict(s.models.map((m) => at(m, maxN, true).throughput / at(m, maxN, false).throughput))}.`,
    '',
  ].join('\n');
  writeFileAtomic(out, md);
  return md;
}

/** What the shared/unshared throughput ratios say: the same kernels run either way. */
function thrVerdict(ratios: number[]): string {
  const lo = Math.min(...ratios);
  const hi = Math.max(...ratios);
  if (lo >= 0.9 && hi <= 1.1) return ` — within ±10 % (${lo.toFixed(2)}–${hi.toFixed(2)}×): the same kernels run either way, so sharing is a pure memory win`;
  if (lo >= 0.9) return ` — sharing is as fast or faster (${lo.toFixed(2)}–${hi.toFixed(2)}×; one weights copy stays warmer in cache)`;
  return ` — ratios ${lo.toFixed(2)}–${hi.toFixed(2)}×: sharing was slower somewhere; on a shared 2-core machine a difference this size may be noise`;
}
