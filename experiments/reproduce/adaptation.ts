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
    tfjsBackend: r.tfjsBackend,
    bar: theBar(r.rows),
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

export interface BarVerdict {
  learner: string;
  /** Non-stationary cells where the learner's goodput is ≥ 1.10 × best static with the interval above 1. */
  wins: string[];
  heldOutWins: string[];
  /** poisson-steady cells and the ratio there (the bar: none below 0.98). */
  steady: { cell: string; ratio: number }[];
  passes: boolean;
  /** Cells where the learner's mean goodput beats each heuristic's. */
  beatsRateAdaptive: number;
  beatsDeadlineAware: number;
  cells: number;
}

/**
 * The issue's bar per learner: ≥ 10 % over best static, paired interval above 1, on ≥ 3 non-stationary
 * cells including a held-out replay, and no worse than −2 % on poisson-steady.
 */
export function theBar(rows: ResultRow[]): BarVerdict[] {
  const learners = [...new Set(rows.filter((r) => r.kind === 'learned').map((r) => r.policy))];
  const cell = (r: ResultRow) => `${r.workload}@${r.load}`;
  return learners.map((learner) => {
    const mine = rows.filter((r) => r.policy === learner);
    const wins = mine.filter((r) => r.workload !== 'poisson-steady' && r.vsBestStatic && r.vsBestStatic.goodputRatio >= 1.1 && r.vsBestStatic.ci95[0] > 1);
    const steady = mine.filter((r) => r.workload === 'poisson-steady').map((r) => ({ cell: cell(r), ratio: r.vsBestStatic?.goodputRatio ?? Number.NaN }));
    const other = (name: string) =>
      mine.filter((r) => {
        const h = rows.find((x) => x.policy === name && cell(x) === cell(r));
        return h !== undefined && r.goodput.mean > h.goodput.mean;
      }).length;
    const heldOutWins = wins.filter((r) => r.heldOut).map(cell);
    return {
      learner,
      wins: wins.map(cell),
      heldOutWins,
      steady,
      passes: wins.length >= 3 && heldOutWins.length >= 1 && steady.every((x) => x.ratio >= 0.98),
      beatsRateAdaptive: other('rate-adaptive'),
      beatsDeadlineAware: other('deadline-aware'),
      cells: mine.length,
    };
  });
}

function barLines(rows: ResultRow[]): string[] {
  return theBar(rows).map(
    (b) =>
      `- **${b.learner}**: ${b.passes ? 'meets the bar' : 'misses the bar'} — ≥ 10 % over best static (interval above 1) on ${b.wins.length} non-stationary cell(s)${b.wins.length ? ` (${b.wins.join(', ')})` : ''}, ${b.heldOutWins.length} of them held out; poisson-steady ${b.steady.map((x) => `${x.cell} ${fmt(x.ratio * 100, 1)} %`).join(', ') || '–'} of best static. Mean goodput above rate-adaptive in ${b.beatsRateAdaptive} of ${b.cells} cells, above deadline-aware in ${b.beatsDeadlineAware} of ${b.cells}.`,
  );
}

/** Where the best learned row beats every baseline (on mean goodput) and where a baseline stays ahead. */
function paysLines(rows: ResultRow[]): string[] {
  const cells = [...new Set(rows.map((r) => `${r.workload}@${r.load}`))];
  const pays: string[] = [];
  const not: string[] = [];
  for (const c of cells) {
    const rs = rows.filter((r) => `${r.workload}@${r.load}` === c);
    const learned = rs.filter((r) => r.kind === 'learned').sort((a, b) => b.goodput.mean - a.goodput.mean)[0];
    const baseline = rs.filter((r) => r.kind === 'baseline').sort((a, b) => b.goodput.mean - a.goodput.mean)[0];
    if (!learned || !baseline) continue;
    const ratio = learned.goodput.mean / Math.max(1e-9, baseline.goodput.mean);
    (ratio > 1 ? pays : not).push(`${c} (${learned.policy} ${fmt(ratio * 100, 0)} % of ${baseline.policy})`);
  }
  if (!pays.length && !not.length) return [];
  return [
    `Learning pays (the best learned row's mean goodput above every baseline's) on ${pays.length} of ${cells.length} cells${pays.length ? `: ${pays.join('; ')}` : ''}. It does not on ${not.length}${not.length ? `: ${not.join('; ')}` : ''}.`,
  ];
}

/**
 * Ablations of a learner P whose spec also trains `P-launcher` and `P-scheduler` (one agent learns,
 * the other keeps its base's choice): goodput vs best static per cell for the three.
 */
function ablationLines(rows: ResultRow[]): string[] {
  const names = new Set(rows.map((r) => r.policy));
  const out: string[] = [];
  for (const p of names) {
    const parts = [p, `${p}-launcher`, `${p}-scheduler`];
    if (!parts.every((x) => names.has(x))) continue;
    out.push(`## Ablation: which agent of ${p} pays`, '');
    out.push(
      `Goodput ÷ best static (interval over training seeds); \`${p}-launcher\` learns only the launcher (the scheduler keeps the base's choice), \`${p}-scheduler\` only the scheduler.`,
      '',
    );
    out.push(`| cell | both (${p}) | launcher only | scheduler only |`, '|---|---|---|---|');
    const cells = [...new Set(rows.map((r) => `${r.workload}@${r.load}`))];
    for (const c of cells) {
      const v = (name: string) => {
        const r = rows.find((x) => x.policy === name && `${x.workload}@${x.load}` === c)?.vsBestStatic;
        return r ? `${fmt(r.goodputRatio, 3)} [${fmt(r.ci95[0], 3)}, ${fmt(r.ci95[1], 3)}]` : '–';
      };
      out.push(`| ${c} | ${parts.map(v).join(' | ')} |`);
    }
    out.push('');
  }
  return out;
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
    `Machine: ${r.machine} (date and commit when the run started). Command: \`${r.command}\` (scale ${r.scale}, ${fmt(r.wallS / 60, 1)} min). Executor: ${r.executor === 'sim' ? 'the simulator with roofline V100 costs' : 'the native executor'}.${r.tfjsBackend ? ` Learners trained on the tfjs ${r.tfjsBackend} backend, one (learner, seed) job per worker thread.` : ''}`,
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
    ...paysLines(r.rows),
    '',
    'The bar (≥ 10 % over the best static policy with the paired interval above 1 on at least 3 non-stationary cells, one of them a held-out replay, and no worse than −2 % on poisson-steady):',
    '',
    ...barLines(r.rows),
    '',
    ...verdicts(r.rows),
    '',
    plotMarkdown('goodput relative to best static', 'adaptation-vs-static'),
    '',
    plotMarkdown('goodput over time', 'adaptation-series'),
    '',
    ...ablationLines(r.rows),
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
