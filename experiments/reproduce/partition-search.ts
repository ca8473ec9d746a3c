/**
 * Search statistics of the classic partitioners on every zoo model (batch 1): predicted latency of
 * sequential / greedy / IOS-DP under a cost model, and the DP's states, transitions, distinct stages
 * costed and wall time. Writes docs/results/partition-search.md.
 */
import { costModelFromSpec } from '../../graphs/cost/index.js';
import { partition } from '../../graphs/partition/index.js';
import { buildModel, ZOO } from '../../graphs/zoo/index.js';
import { table } from '../format.js';
import { machineLine, writeFileAtomic } from '../machine.js';

export interface PartitionSearchOptions {
  costs?: string[];
  models?: string[];
  out?: string;
  log?: (line: string) => void;
}

export function partitionSearch(opts: PartitionSearchOptions = {}): string {
  const costs = opts.costs ?? ['roofline:v100', 'roofline:cpu-2core'];
  const models = opts.models ?? Object.keys(ZOO);
  const log = opts.log ?? (() => {});
  const sections: string[] = [];
  for (const spec of costs) {
    const cost = costModelFromSpec(spec);
    const rows: (string | number)[][] = [];
    for (const name of models) {
      const graph = buildModel(name, { batch: 1 });
      const seq = partition(graph, 'sequential', cost, {});
      const greedy = partition(graph, 'greedy', cost, {});
      const dp = partition(graph, 'ios-dp', cost, { r: 3, s: 8, maxPartOps: 50 });
      const st = dp.stats;
      log(
        `${spec} ${name}: sequential ${seq.latencyMs.toFixed(3)} ms, greedy ${greedy.latencyMs.toFixed(3)} ms, ios-dp ${dp.latencyMs.toFixed(3)} ms in ${st.wallMs.toFixed(0)} ms`,
      );
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
      `## ${cost.name}\n\n${table(['model', 'ops', 'sequential ms', 'greedy ms', 'ios-dp ms', 'dp speedup', 'dp stages', 'states', 'transitions', 'stages costed', 'search s'], rows)}`,
    );
  }
  const md = [
    '# Partition search: sequential vs greedy vs IOS dynamic programming',
    '',
    'Predicted latency (ms, batch 1) of each zoo model under the cost model named in the section, and the',
    'statistics of the IOS DP search (r = 3 ops per group, s = 8 groups per stage, blocks cut into parts of at most 50 ops;',
    'a part whose DP would exceed 20,000 states is halved first — IOS has no such cap, see graphs/partition/blocks.ts).',
    "Latencies are the cost model's predictions, not measurements: the roofline presets are analytical (graphs/cost/roofline.ts).",
    'Search time is measured wall time of the TypeScript DP on the machine below.',
    '',
    `Machine: ${machineLine()}`,
    '',
    `Command: \`npx topsched reproduce partition-search\``,
    '',
    ...sections.map((s) => `${s.replace(/\n(?=[^\n]*$)/, '\n')}\n`),
  ].join('\n');
  if (opts.out) writeFileAtomic(opts.out, md);
  return md;
}
