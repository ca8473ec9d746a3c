/** `topsched partition`: search a stage partition (schedule) for a model under a cost model. */
import type { Command } from 'commander';
import { loadGpgPolicy } from '../../agents/gpg/shipped.js';
import { writeFileAtomic } from '../../graphs/atomic-write.js';
import { assignThreads, type CostModel, costModelFromSpec, ProfiledCostModel, scheduleLatency, ThreadChoiceCostModel } from '../../graphs/cost/index.js';
import type { Graph } from '../../graphs/ir.js';
import { resolveModel } from '../../graphs/models.js';
import { type PartitionResult, partition } from '../../graphs/partition/index.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { scheduleToString, sequentialSchedule, validateSchedule } from '../../graphs/schedule.js';
import { MeasuredCostModel } from '../../native/measured-cost.js';
import { ms, printJson } from '../format.js';
import { choiceOption, INPUT_SHAPE_HELP, INPUT_VALUE_HELP, inputShapeOption, inputValueOption, intOption } from './options.js';

function coverage(cost: ProfiledCostModel, graph: Graph): { ops: number; measured: number } {
  const missing = graph.nodes.filter((n) => cost.fallbacks.has(`${graph.name}/${n.id}`)).length;
  return { ops: graph.nodes.length, measured: graph.nodes.length - missing };
}

const METHODS = ['sequential', 'greedy', 'ios-dp', 'gpg'] as const;

/** The options of `topsched partition`, as commander parses them. */
interface PartitionCommandOptions {
  method: (typeof METHODS)[number];
  r: number;
  s: number;
  maxPartOps: number;
  maxPartStates: number;
  timeBudget?: number;
  merge: boolean;
  policy?: string;
  threads?: number;
  cost: string;
  batch?: number;
  inputShape: Record<string, number[]>;
  inputValue: Record<string, number[]>;
  seed: number;
  optimize: boolean;
  measureBudget: number;
  measureStreams?: number;
  out?: string;
  json?: boolean;
}

export function registerPartition(program: Command): void {
  program
    .command('partition <model>')
    .description('find a stage partition of a model (zoo name, .onnx or .json) and print its predicted latency and search statistics')
    .option(
      '--method <m>',
      `search method: ${METHODS.join(' | ')} (gpg: the learned partitioner, one GNN pass and a greedy decode)`,
      choiceOption('--method', METHODS),
      'ios-dp',
    )
    .option('--policy <dir>', 'gpg: a trained GPG policy folder (default: the one shipped in policies/gpg, written by topsched reproduce gpg)')
    .option('--r <n>', 'IOS pruning: max operators per group', intOption('--r'), 3)
    .option('--s <n>', 'IOS pruning: max groups per stage', intOption('--s'), 8)
    .option('--max-part-ops <n>', 'IOS: cut blocks into parts of at most this many operators', intOption('--max-part-ops'), 50)
    .option(
      '--max-part-states <n>',
      'IOS: halve a part until its DP has at most this many states (0 = no cap, exact IOS)',
      intOption('--max-part-states', 0),
      20000,
    )
    .option('--time-budget <ms>', 'IOS: wall-clock budget; parts past it are scheduled greedily', intOption('--time-budget'))
    .option('--no-merge', 'IOS: do not consider merge stages')
    .option(
      '--cost <spec>',
      'cost model: roofline:<cpu-2core|v100|a100|h100|jetson-xavier> | synthetic[:seed] | profiled:<profile.json>[,…][@<preset>] (measured by topsched profile; the preset prices what it lacks) | measured (each candidate stage run on the native CPU executor during the search, as IOS does)',
      'roofline:v100',
    )
    .option(
      '--measure-budget <s>',
      'measured: seconds of measuring; later stages are priced by roofline:cpu-2core scaled to the measured ones',
      intOption('--measure-budget'),
      120,
    )
    .option('--measure-streams <n>', "measured: streams a stage's groups run on (default: the machine's cores)", intOption('--measure-streams'))
    .option(
      '--threads <cores>',
      "hybrid inter/intra-op: also search each stage's intra-op thread counts (sum ≤ cores) and write them into the schedule",
      intOption('--threads'),
    )
    .option('--batch <n>', "batch size (default: the model's)", intOption('--batch'))
    .option('--input-shape <name=dims>', INPUT_SHAPE_HELP, inputShapeOption, {})
    .option('--input-value <name=values>', INPUT_VALUE_HELP, inputValueOption, {})
    .option('--seed <n>', 'seed for models with random structure (randwire)', intOption('--seed', 0), 0)
    .option('--no-optimize', 'search on the graph as imported, without the optimisation passes (folded BatchNorm, fused epilogues)')
    .option('--out <file>', 'write the schedule JSON here')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  topsched partition inception_v3 --method ios-dp --json\n  topsched partition inception_v3 --no-optimize --r 3 --s 8\n  topsched partition squeezenet1_1 --method greedy --cost roofline:a100 --out sq.json\n  topsched partition model.onnx --r 2 --s 4',
    )
    .action(async (spec: string, opts: PartitionCommandOptions) => {
      // As IOS and TensorRT see a network: BatchNorm folded, activations fused into their producers.
      const imported = resolveModel(spec, { batch: opts.batch, inputShapes: opts.inputShape, inputValues: opts.inputValue, seed: opts.seed });
      const optimized = opts.optimize ? optimizeGraph(imported, { seed: opts.seed }) : null;
      const graph = optimized?.graph ?? imported;
      if (opts.policy !== undefined && opts.method !== 'gpg') throw new Error(`--policy applies to --method gpg, not '${opts.method}'`);
      if (opts.cost !== 'measured' && (opts.measureStreams !== undefined || opts.measureBudget !== 120))
        throw new Error(`--measure-budget and --measure-streams apply to --cost measured, not '${opts.cost}'`);
      const base =
        opts.cost === 'measured'
          ? await MeasuredCostModel.create(graph, { streams: opts.measureStreams, budgetMs: opts.measureBudget * 1000, seed: opts.seed })
          : costModelFromSpec(opts.cost);
      try {
        await searchAndReport(spec, opts, imported, optimized, graph, base);
      } finally {
        if (base instanceof MeasuredCostModel) base.close();
      }
    });
}

async function searchAndReport(
  spec: string,
  opts: PartitionCommandOptions,
  imported: Graph,
  optimized: ReturnType<typeof optimizeGraph> | null,
  graph: Graph,
  base: CostModel,
): Promise<void> {
  const cost = opts.threads !== undefined ? new ThreadChoiceCostModel(base, opts.threads) : base;
  let result: PartitionResult;
  if (opts.method === 'gpg') {
    const policy = await loadGpgPolicy(opts.policy);
    try {
      result = policy.partition(graph, cost, { r: opts.r, s: opts.s });
    } finally {
      policy.dispose();
    }
  } else
    result = partition(graph, opts.method, cost, {
      r: opts.r,
      s: opts.s,
      maxPartOps: opts.maxPartOps,
      maxPartStates: opts.maxPartStates === 0 ? Number.POSITIVE_INFINITY : opts.maxPartStates,
      timeBudgetMs: opts.timeBudget,
      merge: opts.merge,
    });
  if (cost instanceof ThreadChoiceCostModel) result = { ...result, schedule: assignThreads(graph, result.schedule, cost) };
  if (optimized) result.schedule.optimized = true;
  validateSchedule(graph, result.schedule);
  const sequentialMs = scheduleLatency(base, graph, sequentialSchedule(graph));
  if (opts.out) {
    writeFileAtomic(opts.out, scheduleToString(result.schedule));
  }
  const stages = result.schedule.stages;
  const summary = {
    model: graph.name,
    batch: graph.batch,
    method: opts.method,
    cost: cost.name,
    nodes: graph.nodes.length,
    nodesImported: imported.nodes.length,
    optimized: !!optimized,
    ...(optimized ? { passes: optimized.passes } : {}),
    stages: stages.length,
    mergeStages: stages.filter((s) => s.kind === 'merge').length,
    maxGroups: Math.max(...stages.map((s) => s.groups.length)),
    latencyMs: result.latencyMs,
    sequentialMs,
    speedup: sequentialMs / result.latencyMs,
    stats: result.stats,
    // A profile prices only the node ids it measured; the rest fell back to its roofline preset.
    ...(base instanceof ProfiledCostModel ? { profileCoverage: coverage(base, graph) } : {}),
    ...(opts.threads !== undefined ? { hybridStages: stages.filter((st) => st.threads).length } : {}),
    ...(base instanceof MeasuredCostModel ? { measuring: base.stats } : {}),
  };
  if (opts.json) return printJson({ ...summary, schedule: result.schedule, ...(opts.out ? { written: opts.out } : {}) });
  const ops = optimized ? `${graph.nodes.length} ops after optimisation, ${imported.nodes.length} imported` : `${graph.nodes.length} ops, not optimised`;
  console.log(`${graph.name} (batch ${graph.batch}, ${ops}) — ${opts.method} under ${cost.name}`);
  console.log(`  predicted latency ${ms(result.latencyMs)}  (sequential ${ms(sequentialMs)}, ${summary.speedup.toFixed(2)}× faster)`);
  console.log(
    `  ${stages.length} stages, ${summary.mergeStages} merge, up to ${summary.maxGroups} concurrent groups${opts.threads !== undefined ? `, ${summary.hybridStages} with searched thread counts (${opts.threads} cores)` : ''}`,
  );
  const st = result.stats;
  console.log(`  search: ${st.states} states, ${st.transitions} transitions, ${st.stagesCosted} stages costed, ${st.wallMs.toFixed(0)} ms`);
  if (summary.profileCoverage) {
    const c = summary.profileCoverage;
    console.log(
      `  profile covers ${c.measured} of ${c.ops} ops${c.measured < c.ops ? `; the other ${c.ops - c.measured} are priced by the roofline fallback (profile the same graph: topsched profile ${spec}${optimized ? ' --optimize' : ''})` : ''}`,
    );
  }
  if (summary.measuring) {
    const m = summary.measuring;
    console.log(
      `  measured ${m.measured} distinct stages on the native executor in ${(m.measuringMs / 1000).toFixed(1)} s (${m.memoHits} memo hits${m.estimated ? `; ${m.estimated} past the budget priced by roofline × ${m.fallbackScale.toFixed(2)}` : ''})`,
    );
  }
  if (opts.out) console.log(`  wrote ${opts.out}`);
}
