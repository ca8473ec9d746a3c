/**
 * What `topsched run` and `topsched profile` share: the (model, schedule) they execute — a schedule
 * file or one searched by a partition method — and opening the native executor with its errors
 * (addon missing, CUDA not built, no device) turned into one line naming the backend.
 */
import type { Command } from 'commander';
import { costModelFromSpec } from '../../graphs/cost/index.js';
import type { Graph } from '../../graphs/ir.js';
import { readTextBounded } from '../../graphs/limits.js';
import { resolveModel } from '../../graphs/models.js';
import { type PartitionMethod, partition } from '../../graphs/partition/index.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { type Schedule, scheduleFromString, validateSchedule } from '../../graphs/schedule.js';
import { NativeExecutor, type NativeExecutorOptions } from '../../native/index.js';
import { choiceOption, INPUT_SHAPE_HELP, INPUT_VALUE_HELP, inputShapeOption, inputValueOption, intOption } from './options.js';

export const BACKENDS = ['cpu', 'cuda'] as const;
export type Backend = (typeof BACKENDS)[number];
export const SCHEDULE_METHODS: readonly PartitionMethod[] = ['sequential', 'greedy', 'ios-dp'];

export interface TargetOptions {
  backend: Backend;
  schedule: string;
  batch?: number;
  /** Shapes of dynamic ONNX inputs (`--input-shape`). */
  inputShape?: Record<string, number[]>;
  /** Fixed values of ONNX inputs (`--input-value`). */
  inputValue?: Record<string, number[]>;
  cost?: string;
  timeBudget: number;
  seed: number;
  /** Optimise the graph before searching a schedule (run: on unless --no-optimize; profile: --optimize). */
  optimize?: boolean;
}

export interface Target {
  graph: Graph;
  schedule: Schedule;
  /** The method that searched the schedule, or the file it came from. */
  scheduleSource: string;
  /** Cost model of the search (null for a schedule file). */
  cost: string | null;
}

/**
 * The options both commands take, with the same names, parsers and defaults. `run` searches on the
 * optimised graph unless --no-optimize; `profile` on the graph as imported unless --optimize, since
 * its profiles calibrate the simulator, whose models are the graphs as imported (node ids must match).
 */
export function addTargetOptions(cmd: Command, o: { optimizeByDefault: boolean }): Command {
  return cmd
    .option('--backend <b>', `executor backend: ${BACKENDS.join(' | ')}`, choiceOption('--backend', BACKENDS), 'cpu')
    .option('--schedule <s>', `a schedule JSON file (topsched partition --out), or a method to search one: ${SCHEDULE_METHODS.join(' | ')}`, 'ios-dp')
    .option('--batch <n>', "batch size (default: the model's, or the schedule file's)", intOption('--batch'))
    .option('--input-shape <name=dims>', INPUT_SHAPE_HELP, inputShapeOption, {})
    .option('--input-value <name=values>', INPUT_VALUE_HELP, inputValueOption, {})
    .option('--cost <spec>', 'cost model of the schedule search (default roofline:cpu-2core on cpu, roofline:v100 on cuda)')
    .option('--time-budget <ms>', 'ios-dp: wall-clock budget of the search; parts past it are scheduled greedily', intOption('--time-budget'), 10_000)
    .option('--seed <n>', "seed of the materialized weights and inputs (and of randwire's structure)", intOption('--seed', 0), 0)
    .option(
      o.optimizeByDefault ? '--no-optimize' : '--optimize',
      o.optimizeByDefault
        ? "search the schedule on the graph as imported, without the optimisation passes (a schedule file's own 'optimized' flag decides for it)"
        : "run the optimisation passes (folded BatchNorm, fused epilogues) before searching the schedule (a schedule file's own 'optimized' flag decides for it)",
    );
}

/** Resolves the model and its schedule; every bad value is an error naming it. */
export function resolveTarget(spec: string, o: TargetOptions): Target {
  if ((SCHEDULE_METHODS as readonly string[]).includes(o.schedule)) {
    const imported = resolveModel(spec, { batch: o.batch, inputShapes: o.inputShape, inputValues: o.inputValue, seed: o.seed });
    const graph = o.optimize ? optimizeGraph(imported, { seed: o.seed }).graph : imported;
    const costSpec = o.cost ?? (o.backend === 'cuda' ? 'roofline:v100' : 'roofline:cpu-2core');
    const cost = costModelFromSpec(costSpec);
    const { schedule } = partition(graph, o.schedule as PartitionMethod, cost, { timeBudgetMs: o.timeBudget });
    if (o.optimize) schedule.optimized = true;
    return { graph, schedule: validateSchedule(graph, schedule), scheduleSource: o.schedule, cost: cost.name };
  }
  if (o.cost !== undefined) throw new Error(`--cost '${o.cost}' applies to a searched schedule; --schedule '${o.schedule}' is a file`);
  let text: string;
  try {
    text = readTextBounded(o.schedule, 'schedule');
  } catch (e) {
    throw new Error(`--schedule '${o.schedule}' is neither a method (${SCHEDULE_METHODS.join(' | ')}) nor a readable file: ${(e as Error).message}`);
  }
  const schedule = scheduleFromString(text, o.schedule);
  if (o.batch !== undefined && schedule.batch !== o.batch)
    throw new Error(`${o.schedule}: the schedule is for batch ${schedule.batch}, --batch is ${o.batch} (search one for this batch with topsched partition)`);
  const imported = resolveModel(spec, { batch: schedule.batch, inputShapes: o.inputShape, inputValues: o.inputValue, seed: o.seed });
  const graph = schedule.optimized ? optimizeGraph(imported, { seed: o.seed }).graph : imported;
  return { graph, schedule: validateSchedule(graph, schedule, o.schedule), scheduleSource: o.schedule, cost: null };
}

/** An error message on one line (the loader's lists every path it tried, one per line). */
export function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  // A line ending in ':' introduces the next one; other breaks separate items of a list.
  return lines.map((l, i) => (i === lines.length - 1 ? l : `${l}${/[:;]$/.test(l) ? ' ' : '; '}`)).join('');
}

/** Opens the executor; a missing addon or backend is one Error line naming the backend asked for. */
export function openExecutor(opts: NativeExecutorOptions & { backend: Backend }): NativeExecutor {
  try {
    return new NativeExecutor(opts);
  } catch (e) {
    throw new Error(`--backend ${opts.backend}: ${oneLine((e as Error).message)}`);
  }
}

export function maxGroups(schedule: Schedule): number {
  return Math.max(...schedule.stages.map((s) => s.groups.length));
}
