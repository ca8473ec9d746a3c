/**
 * Search statistics of the classic partitioners on every zoo model (batch 1): predicted latency of
 * sequential / greedy / IOS-DP under a cost model, and the DP's states, transitions, distinct stages
 * costed and wall time, on the optimised graph (what `topsched partition` searches by default) and,
 * for comparison, on the graph as imported. Writes docs/results/partition-search.md and two plots.
 */
import { join } from 'node:path';
import { costModelFromSpec } from '../../graphs/cost/index.js';
import { partition } from '../../graphs/partition/index.js';
import { optimizeGraph } from '../../graphs/passes/index.js';
import { buildModel, ZOO } from '../../graphs/zoo/index.js';
import { table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { barChart, type PlotSpec, plotMarkdown, writePlot } from '../plot.js';

export interface PartitionSearchOptions {
  /** Cost-model specs, one section each. Default roofline:v100 and roofline:cpu-2core. */
  costs?: string[];
  /** Zoo models (batch 1). Default every zoo model. */
  models?: string[];
  /** The markdown file; the plots go next to it (`partition-search-*.svg/png`). */
  out?: string;
  log?: (line: string) => void;
}

/** One panel per cost model: a bar chart of the same encoding, faceted by row. */
function facetedBars(spec: PlotSpec, field: string, title: string): PlotSpec {
  const { title: t, data, ...unit } = spec as unknown as Record<string, unknown>;
  return { title: t, data, facet: { row: { field, type: 'nominal', title } }, spec: unit, resolve: { scale: { y: 'independent' } } } as unknown as PlotSpec;
}

export async function partitionSearch(opts: PartitionSearchOptions = {}): Promise<string> {
  const costs = opts.costs ?? ['roofline:v100', 'roofline:cpu-2core'];
  const models = opts.models ?? Object.keys(ZOO);
  const log = opts.log ?? (() => {});
  const sections: string[] = [];
  const speedups: Record<string, unknown>[] = [];
  const searches: Record<string, unknown>[] = [];
  for (const spec of costs) {
    const cost = costModelFromSpec(spec);
    const rows: (string | number)[][] = [];
    const importedRows: (string | number)[][] = [];
    for (const name of models) {
      const imported = buildModel(name, { batch: 1 });
      const graph = optimizeGraph(imported).graph;
      const raw = partition(imported, 'ios-dp', cost, { r: 3, s: 8, maxPartOps: 50 });

      const seq = partition(graph, 'sequential', cost, {});
      const greedy = partition(graph, 'greedy', cost, {});
      const dp = partition(graph, 'ios-dp', cost, { r: 3, s: 8, maxPartOps: 50 });
      const st = dp.stats;
      importedRows.push([
        name,
        `${imported.nodes.length} → ${graph.nodes.length}`,
        `${raw.latencyMs.toFixed(3)} → ${dp.latencyMs.toFixed(3)}`,
        `${raw.stats.states} → ${st.states}`,
        `${raw.stats.transitions} → ${st.transitions}`,
        `${(raw.stats.wallMs / 1000).toFixed(2)} → ${(st.wallMs / 1000).toFixed(2)}`,
      ]);
      log(
        `${spec} ${name}: sequential ${seq.latencyMs.toFixed(3)} ms, greedy ${greedy.latencyMs.toFixed(3)} ms, ios-dp ${dp.latencyMs.toFixed(3)} ms in ${st.wallMs.toFixed(0)} ms`,
      );
      for (const [method, ms] of [
        ['greedy', greedy.latencyMs],
        ['ios-dp', dp.latencyMs],
      ] as const)
        speedups.push({ cost: cost.name, model: name, method, speedup: seq.latencyMs / ms });
      // Log axis: a search measured as 0 ms (tiny models) is floored at 1 µs to stay on it.
      searches.push({ cost: cost.name, model: name, ms: Math.max(st.wallMs, 1e-3), states: st.states });
      rows.push([
        name,
        graph.nodes.length,
        seq.latencyMs.toFixed(3),
        greedy.latencyMs.toFixed(3),
        dp.latencyMs.toFixed(3),
        `${(seq.latencyMs / dp.latencyMs).toFixed(2)}×`,
        dp.schedule.stages.length,
        st.states,
        st.transitions,
        st.stagesCosted,
        (st.wallMs / 1000).toFixed(2),
      ]);
    }
    sections.push(
      `## ${cost.name}\n\n${table(['model', 'ops', 'sequential ms', 'greedy ms', 'ios-dp ms', 'dp speedup', 'dp stages', 'states', 'transitions', 'stages costed', 'search s'], rows)}\n\n` +
        `IOS-DP on the graph as imported → on the optimised graph (\`--no-optimize\` vs the default):\n\n${table(['model', 'ops', 'ios-dp ms', 'states', 'transitions', 'search s'], importedRows)}`,
    );
  }
  const plots: string[] = [];
  if (opts.out) {
    const dir = join(opts.out, '..');
    const speedBase = join(dir, 'partition-search-speedup');
    await writePlot(
      facetedBars(
        barChart({
          title: 'Predicted speed-up over the sequential schedule (batch 1)',
          data: speedups,
          category: { field: 'model', title: 'model' },
          value: { field: 'speedup', title: 'sequential ÷ method latency' },
          group: { field: 'method', title: 'partitioner' },
        }),
        'cost',
        'cost model',
      ),
      speedBase,
    );
    const searchBase = join(dir, 'partition-search-time');
    await writePlot(
      barChart({
        title: 'IOS-DP search wall time per model',
        data: searches,
        category: { field: 'model', title: 'model' },
        value: { field: 'ms', title: 'search time (ms, log)', log: true },
        group: { field: 'cost', title: 'cost model' },
      }),
      searchBase,
    );
    plots.push(plotMarkdown('speed-up over sequential', speedBase), '', plotMarkdown('IOS-DP search time', searchBase), '');
  }
  const dpWins = speedups.filter((r) => r.method === 'ios-dp');
  const best = dpWins.reduce((a, b) => ((b.speedup as number) > (a.speedup as number) ? b : a));
  const slowest = searches.reduce((a, b) => ((b.ms as number) > (a.ms as number) ? b : a));
  const greedyOf = (r: Record<string, unknown>) => speedups.find((x) => x.method === 'greedy' && x.cost === r.cost && x.model === r.model)?.speedup as number;
  const dpVsGreedy = dpWins.filter((r) => (r.speedup as number) > greedyOf(r) * (1 + 1e-9));
  const dpSlower = dpWins.filter((r) => (r.speedup as number) < greedyOf(r) * (1 - 1e-9)).map((r) => `${r.model} (${r.cost})`);
  const verdict = [
    `IOS-DP's largest predicted speed-up over sequential is ${(best.speedup as number).toFixed(2)}× (${best.model}, ${best.cost});`,
    `it is strictly faster than greedy on ${dpVsGreedy.length} of ${dpWins.length} (model, cost model) pairs${dpSlower.length ? ` and slower on ${dpSlower.join(', ')}` : ' and never slower'}.`,
    `The most expensive search is ${slowest.model} under ${slowest.cost}: ${((slowest.ms as number) / 1000).toFixed(2)} s, ${slowest.states} DP states.`,
  ].join('\n');
  const md = [
    '# Partition search: sequential vs greedy vs IOS dynamic programming',
    '',
    'Predicted latency (ms, batch 1) of each zoo model under the cost model named in the section, and the',
    'statistics of the IOS DP search, on the optimised graph that `topsched partition` searches by default (graphs/passes:',
    'BatchNorm folded into its Conv, activations and residual Adds fused into their producers; IOS schedules Inception-v3 as',
    '119 operators, Conv+BN+ReLU being one) and, in a second table per section, on the graph as imported',
    '(r = 3 ops per group, s = 8 groups per stage, blocks cut into parts of at most 50 ops;',
    'a part whose DP would exceed 20,000 states is halved first — IOS has no such cap, see graphs/partition/blocks.ts).',
    "Latencies are the cost model's predictions, not measurements: the roofline presets are analytical (graphs/cost/roofline.ts).",
    'Search time is measured wall time of the TypeScript DP on the machine below.',
    '',
    `Machine: ${machineLine()}`,
    '',
    `Backend: cost-model predictions (${costs.join(', ')}; analytical roofline presets), no executor; search time is wall time of the TypeScript DP.`,
    '',
    `Command: \`npx topsched reproduce partition-search\``,
    '',
    `Scale: ${opts.models ? 'reduced' : 'full, every zoo model'} — ${models.length} model${models.length === 1 ? '' : 's'} (${models.join(', ')}), batch 1, ${costs.length} cost model${costs.length === 1 ? '' : 's'}.`,
    '',
    ...plots,
    ...sections.map((s) => `${s}\n`),
    verdict,
    '',
  ].join('\n');
  if (opts.out) writeFileAtomic(opts.out, md);
  return md;
}
