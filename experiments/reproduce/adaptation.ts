/**
 * `topsched reproduce adaptation [--scale tiny]`: the workload matrix of experiments/specs/adaptation.yaml
 * through the evaluation harness. Writes adaptation.md (tables per workload and load, the learned
 * policies against the tuned baselines, honest verdicts computed from the intervals), adaptation.json
 * (the rows in the schema the issue fixes) and two plots: goodput relative to the best static policy
 * with 95 % intervals, and goodput over time on the diurnal and replayed workloads.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ResultRow, runSpec, type SpecResults } from '../harness/run.js';
import { loadSpec } from '../harness/spec.js';
import { writeFileAtomic } from '../machine.js';
import { type PlotSpec, plotMarkdown, writePlot } from '../plot.js';
import { writeJsonAtomic } from '../run-dir.js';

/** experiments/specs/adaptation.yaml of the package, found from here whether running from dist/ or the sources. */
export function adaptationSpecPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const f = join(dir, 'experiments', 'specs', 'adaptation.yaml');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error('experiments/specs/adaptation.yaml not found above the package sources');
}

export interface AdaptationOptions {
  out: string;
  scale?: string;
  spec?: string;
  log?: (line: string) => void;
}

const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const ci = (i: { mean: number; ci95: [number, number] }, d = 0) => `${fmt(i.mean, d)} [${fmt(i.ci95[0], d)}, ${fmt(i.ci95[1], d)}]`;

/** The JSON the issue fixes: rows plus where and how they were made. */
export function adaptationJson(r: SpecResults): Record<string, unknown> {
  return {
    rows: r.rows.map((x) => ({
      workload: x.workload,
      load: x.load,
      heldOut: x.heldOut,
      policy: x.policy,
      kind: x.kind,
      seeds: x.seeds,
      episodes: x.episodes,
      goodput: x.goodput,
      sloAttainment: x.sloAttainment,
      throughput: x.throughput,
      p50Ms: x.p50Ms,
      p99Ms: x.p99Ms,
      meanQueueMs: x.meanQueueMs,
      meanComputeMs: x.meanComputeMs,
      decisionUs: x.decisionUs,
      vsBestStatic: x.vsBestStatic,
      setup: x.setup,
      budgetSteps: x.budgetSteps,
    })),
    capacity: r.capacity,
    warmupS: r.warmupS,
    episodeS: r.episodeS,
    series: r.series,
    scale: r.scale,
    executor: r.executor,
    machine: r.machine,
    date: r.date,
    commit: r.commit,
    command: r.command,
    wallS: r.wallS,
  };
}

function verdicts(rows: ResultRow[]): string[] {
  const out: string[] = [];
  const cells = [...new Set(rows.map((r) => `${r.workload}@${r.load}`))];
  let wins = 0;
  let learnedCells = 0;
  for (const c of cells) {
    const rs = rows.filter((r) => `${r.workload}@${r.load}` === c);
    const best = [...rs].sort((a, b) => b.goodput.mean - a.goodput.mean)[0];
    const learned = rs.filter((r) => r.kind === 'learned');
    for (const l of learned) {
      learnedCells++;
      const v = l.vsBestStatic;
      if (v && v.ci95[0] > 1) wins++;
    }
    out.push(
      `- ${c}: best goodput ${best.policy} (${fmt(best.goodput.mean)} req/s)${learned
        .map(
          (l) =>
            `; ${l.policy} ${fmt((l.vsBestStatic?.goodputRatio ?? Number.NaN) * 100, 1)} % of best static [${(l.vsBestStatic?.ci95 ?? [Number.NaN, Number.NaN]).map((x) => fmt(x * 100, 1)).join(', ')}]`,
        )
        .join('')}`,
    );
  }
  out.unshift(`Learned policies beat the best static policy with the paired 95 % interval above 1 in ${wins} of ${learnedCells} (cell, learner) pairs.`, '');
  return out;
}

function ratioPlot(r: SpecResults): PlotSpec {
  const data = r.rows
    .filter((x) => x.vsBestStatic && x.policy !== 'one-at-a-time')
    .map((x) => ({
      cell: `${x.workload} @${x.load}`,
      policy: x.policy,
      ratio: x.vsBestStatic?.goodputRatio,
      lo: x.vsBestStatic?.ci95[0],
      hi: x.vsBestStatic?.ci95[1],
    }));
  return {
    title: 'Goodput relative to the best static policy (paired 95 % intervals)',
    data: { values: data },
    facet: { field: 'cell', type: 'nominal', title: null },
    columns: 4,
    spec: {
      width: 200,
      height: 160,
      layer: [
        {
          mark: 'point',
          encoding: {
            x: { field: 'policy', type: 'nominal', title: null, axis: { labelAngle: -40 } },
            y: { field: 'ratio', type: 'quantitative', title: 'goodput ÷ best static', scale: { zero: false } },
            color: { field: 'policy', type: 'nominal', legend: null },
          },
        },
        {
          mark: 'rule',
          encoding: {
            x: { field: 'policy', type: 'nominal' },
            y: { field: 'lo', type: 'quantitative' },
            y2: { field: 'hi' },
            color: { field: 'policy', type: 'nominal', legend: null },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { y: { datum: 1 } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  } as PlotSpec;
}

function seriesPlot(r: SpecResults): PlotSpec {
  const data = r.series.flatMap((s) => [
    ...s.points.map((p) => ({ panel: `${s.workload} @${s.load}`, t: p.tS, value: p.goodput, line: s.policy })),
    ...(s.policy === 'best-static' ? s.points.map((p) => ({ panel: `${s.workload} @${s.load}`, t: p.tS, value: p.arrivalRate, line: 'arrival rate' })) : []),
  ]);
  return {
    title: 'Goodput over time (mean of the evaluation episodes) and the arrival rate',
    data: { values: data },
    facet: { field: 'panel', type: 'nominal', title: null },
    columns: 2,
    spec: {
      width: 320,
      height: 180,
      mark: { type: 'line' },
      encoding: {
        x: { field: 't', type: 'quantitative', title: 'env time (s)' },
        y: { field: 'value', type: 'quantitative', title: 'req/s' },
        color: { field: 'line', type: 'nominal', title: null },
        strokeDash: { condition: { test: "datum.line === 'arrival rate'", value: [4, 3] }, value: [1, 0] },
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as PlotSpec;
}

export function adaptationMarkdown(r: SpecResults): string {
  const lines: string[] = [
    '# adaptation: when does learned scheduling pay?',
    '',
    `Machine: ${r.machine} (date and commit when the run started). Command: \`${r.command}\` (scale ${r.scale}, ${fmt(r.wallS / 60, 1)} min). Executor: ${r.executor === 'sim' ? 'the simulator with roofline V100 costs' : 'the native executor'}.`,
    '',
    `Three models with mixed SLOs (squeezenet1_1 10 ms, resnet50 50 ms, bert_layer 200 ms; shares 50 / 30 / 20 %) under seven workload shapes at ${[...new Set(r.rows.map((x) => x.load))].join(' and ')} of each workload's calibrated capacity (${Object.entries(
      r.capacity,
    )
      .map(([w, c]) => `${w} ${fmt(c)} req/s`)
      .join(
        ', ',
      )}: the highest Poisson rate of the mix that greedy release at the largest batch still serves). Episodes: ${fmt(r.episodeS, 1)} s of env time measured after a ${r.warmupS} s warm-up (excluded). Every policy runs on the same evaluation seeds, so differences are paired; the tuning seeds are disjoint from them.`,
    '',
    'Goodput is requests completed within their SLO per second; SLO attainment is within-SLO completions ÷ arrivals. Intervals are 95 % percentile-bootstrap intervals: over evaluation episodes for the baselines, over training seeds for the learned rows (each seed averaged over the episodes). "vs best static" is the goodput ratio to the best static policy tuned on that cell, with its paired interval.',
    '',
    'The Azure replays (azure-code, azure-conv) are real arrival logs (Azure LLM inference traces, November 2023; Patel et al., "Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024; AzurePublicDataset, CC BY 4.0), rescaled in time to each load. They are held out: the learners never train on them.',
    '',
    '## Verdicts',
    '',
    ...verdicts(r.rows),
    '',
    plotMarkdown('goodput relative to best static', 'adaptation-vs-static'),
    '',
    plotMarkdown('goodput over time', 'adaptation-series'),
    '',
  ];
  for (const w of [...new Set(r.rows.map((x) => x.workload))]) {
    for (const load of [...new Set(r.rows.filter((x) => x.workload === w).map((x) => x.load))]) {
      const rs = r.rows.filter((x) => x.workload === w && x.load === load);
      lines.push(`## ${w} at ${load} × capacity${rs[0]?.heldOut ? ' (held out)' : ''}`, '');
      lines.push(
        '| policy | goodput req/s | SLO attainment | throughput req/s | p99 ms | queue / compute ms | vs best static | decision µs | setup (tuning or training steps) |',
      );
      lines.push('|---|---|---|---|---|---|---|---|---|');
      for (const x of rs)
        lines.push(
          `| ${x.policy}${x.kind === 'learned' ? ' (learned)' : ''} | ${ci(x.goodput)} | ${ci(x.sloAttainment, 3)} | ${ci(x.throughput)} | ${ci(x.p99Ms, 1)} | ${fmt(x.meanQueueMs, 1)} / ${fmt(x.meanComputeMs, 1)} | ${x.vsBestStatic ? `${fmt(x.vsBestStatic.goodputRatio, 3)} [${fmt(x.vsBestStatic.ci95[0], 3)}, ${fmt(x.vsBestStatic.ci95[1], 3)}]` : '–'} | ${fmt(x.decisionUs, 1)} | ${x.setup} (${x.budgetSteps} steps) |`,
        );
      lines.push('');
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function adaptation(o: AdaptationOptions): Promise<SpecResults> {
  const spec = loadSpec(o.spec ?? adaptationSpecPath(), o.scale ?? 'default');
  const r = await runSpec(spec, { log: o.log });
  const dir = join(o.out, '..');
  const base = o.out.replace(/\.md$/, '');
  await writePlot(ratioPlot(r), `${base}-vs-static`);
  await writePlot(seriesPlot(r), `${base}-series`);
  writeJsonAtomic(`${base}.json`, adaptationJson(r));
  writeFileAtomic(o.out, adaptationMarkdown(r));
  o.log?.(`wrote ${o.out}, ${base}.json and plots in ${dir}`);
  return r;
}
