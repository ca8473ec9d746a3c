/**
 * The native executor's targets (dispatch overhead, two-stream speed-up, Inception-v3 against
 * onnxruntime-node, arena/LOAD per zoo model, RSS over 10,000 runs, per-run overhead, the five-model
 * table against onnxruntime-node at batch 1 and 8), measured side by side by the
 * bench and written to docs/results/executor.md with the machine, the command and two plots.
 */
import { join } from 'node:path';
import type { InceptionComparison, MemoryRatio } from '../../native/bench.js';
import { runBench } from '../bench.js';
import { machineLine, writeFileAtomic } from '../machine.js';
import { barChart, type PlotSpec, plotMarkdown, writePlot } from '../plot.js';

export interface ExecutorResultsOptions {
  /** The markdown file; the plots go next to it (`executor-*.svg/png`). */
  out?: string;
  /** Runs of the RSS drift check (e). Default 10,000 (the target). */
  leakRuns?: number;
  log?: (line: string) => void;
}

const MiB = 1024 ** 2;

export async function executorResults(opts: ExecutorResultsOptions = {}): Promise<string> {
  const leakRuns = opts.leakRuns ?? 10_000;
  const lines: string[] = [];
  const res = await runBench({
    sections: ['native'],
    leakRuns,
    print: (t) => {
      lines.push(t);
      opts.log?.(t);
    },
  });
  const native = res.native as { skipped?: string; inception?: InceptionComparison; memory?: MemoryRatio[] };
  // Without the addon there is nothing to measure: say so instead of writing an empty result.
  if (native.skipped || !native.inception || !native.memory) throw new Error(`executor: native executor unavailable (${native.skipped ?? 'no results'})`);
  const inc = native.inception;
  const mem = native.memory;

  const plots: string[] = [];
  if (opts.out) {
    const dir = join(opts.out, '..');
    const incBase = join(dir, 'executor-inception');
    // Horizontal bars in the table's order: the variant names are too long for a slanted x axis.
    const incSpec = {
      title: 'Inception-v3, batch 1: median latency',
      data: {
        values: [
          { variant: 'sequential, 1 stream, 1-thread ops', ms: inc.seq1Thread.medianMs },
          { variant: 'sequential, 1 stream, 2-thread ops', ms: inc.seq2Threads.medianMs },
          { variant: `ios-dp (${inc.iosStages} stages), 2 streams, 1-thread ops`, ms: inc.iosDp2Streams.medianMs },
          { variant: 'onnxruntime-node, 2 intra-op threads', ms: inc.ort2Threads.medianMs },
        ],
      },
      mark: 'bar',
      width: 420,
      height: 160,
      encoding: {
        y: { field: 'variant', type: 'nominal', title: null, sort: null, axis: { labelLimit: 400 } },
        x: { field: 'ms', type: 'quantitative', title: 'median latency (ms)' },
        tooltip: [{ field: 'variant' }, { field: 'ms' }],
      },
    } as PlotSpec;
    await writePlot(incSpec, incBase);
    const memBase = join(dir, 'executor-memory');
    await writePlot(
      barChart({
        title: 'Memory of the sequential schedule per model',
        data: mem.flatMap((m) => [
          { model: m.model, kind: 'planned arena', mib: m.arenaBytes / MiB },
          { model: m.model, kind: 'LOAD (peak live)', mib: m.loadBytes / MiB },
          { model: m.model, kind: 'caching reserved', mib: m.cachingReservedBytes / MiB },
          { model: m.model, kind: 'naive (no reuse)', mib: m.naiveBytes / MiB },
        ]),
        category: { field: 'model', title: 'model' },
        value: { field: 'mib', title: 'MiB (log)', log: true },
        group: { field: 'kind', title: 'memory' },
        width: 560,
      }),
      memBase,
    );
    plots.push(plotMarkdown('Inception-v3 latency per executor', incBase), '', plotMarkdown('memory per model', memBase), '');
  }

  const worst = mem.reduce((a, b) => (b.arenaOverLoad > a.arenaOverLoad ? b : a));
  const ortRatio = inc.iosDp2Streams.medianMs / inc.ort2Threads.medianMs;
  const bestOurs = Math.min(inc.seq1Thread.medianMs, inc.seq2Threads.medianMs, inc.iosDp2Streams.medianMs);
  const verdict = [
    `Inception-v3: the IOS-DP schedule on 2 streams runs in ${inc.iosDp2Streams.medianMs.toFixed(1)} ms, ${(inc.seq1Thread.medianMs / inc.iosDp2Streams.medianMs).toFixed(2)}× the sequential single-threaded schedule;`,
    `onnxruntime-node with 2 threads takes ${inc.ort2Threads.medianMs.toFixed(1)} ms (IOS-DP ÷ onnxruntime ${ortRatio.toFixed(2)}; our fastest variant ÷ onnxruntime ${(bestOurs / inc.ort2Threads.medianMs).toFixed(2)}).`,
    `Memory: the worst arena/LOAD is ${worst.arenaOverLoad.toFixed(3)} (${worst.model}; target ≤ 1.02 ${worst.arenaOverLoad <= 1.02 ? 'met' : 'missed'}).`,
  ].join('\n');

  const md = [
    '# Native executor (CPU backend, oneDNN)',
    '',
    'Batch 1 everywhere. (a) mean wall time per op of a 2000-op chain of tiny Relu ops on one stream;',
    '(b) two independent conv chains joined by an Add, on 2 streams vs 1 — only meaningful on an otherwise',
    'idle machine (this workplace shares cores between sessions); (c) Inception-v3: sequential schedule on',
    'one stream with single- and two-threaded ops, the IOS-DP schedule (roofline cpu-2core costs) on two',
    'streams with single-threaded ops, and onnxruntime-node on the exported ONNX with 2 intra-op threads;',
    '(d) the planned arena of the sequential schedule against LOAD (peak live bytes measured by the executor)',
    'and the naive sum (one buffer per tensor), plus what the caching allocator reserved;',
    `(e) resident set size over ${leakRuns.toLocaleString('en-US')} squeezenet1_1 runs after 500 warm-up runs;`,
    '(f) per-run overhead of a one-op model, run() to its resolved Promise, next to onnxruntime-node;',
    "(g) five models at batch 1 and 8: topsched's best variant on the optimised graph against onnxruntime-node with the",
    'same thread count (1 and 2: sequential with T-thread ops; for 2 also IOS-DP and hybrid IOS-DP on 2 streams), and the geometric',
    'mean of the ratios; both timed end to end, in five rounds of blocks of runs in turn (each block at least 150 ms',
    "of runs), each block in an executor or session of its own opened for it (so no other contender's idle threads run beside it) and, for",
    'multi-threaded ops, after the runs in which each op measures its thread count (opThreadChoice);',
    "(h) hybrid inter/intra-op schedules on 2 cores: IOS-DP searching each stage's per-group thread counts under the",
    'roofline and under measured costs (`--cost measured`, 20 s of measuring), against the best sequential schedule.',
    'Activations between convolutions stay in the layout oneDNN picks on this CPU (native/src/layout.cpp).',
    '',
    `Machine: ${machineLine()}`,
    '',
    'Backend: cpu native (the topsched oneDNN executor, native/); onnxruntime-node CPU for the comparison row.',
    '',
    'Command: `npx topsched reproduce executor` (the same tables as `npm run bench -- native`)',
    '',
    `Scale: full — every zoo model for (d), ${leakRuns.toLocaleString('en-US')} runs for (e). The machine is 2 cores shared with other jobs: latencies are noisy, memory numbers are exact.`,
    '',
    ...plots,
    '```',
    ...lines,
    '```',
    '',
    verdict,
    '',
  ].join('\n');
  if (opts.out) writeFileAtomic(opts.out, md);
  return md;
}
