/**
 * The native executor's targets (dispatch overhead, two-stream speed-up, Inception-v3 against
 * onnxruntime-node, arena/LOAD per zoo model, RSS over 10,000 runs), measured side by side by the
 * bench and written to docs/results/executor.md with the machine and the command.
 */
import { runBench } from '../bench.js';
import { machineLine, writeFileAtomic } from '../machine.js';

export async function executorResults(opts: { out?: string; leakRuns?: number; log?: (line: string) => void } = {}): Promise<string> {
  const lines: string[] = [];
  await runBench({
    sections: ['native'],
    leakRuns: opts.leakRuns,
    print: (t) => {
      lines.push(t);
      opts.log?.(t);
    },
  });
  const md = [
    '# Native executor (CPU backend, oneDNN)',
    '',
    `Machine: ${machineLine()}`,
    '',
    'Command: `npx topsched reproduce executor` (the same tables as `npm run bench -- native`)',
    '',
    'Batch 1 everywhere. (a) mean wall time per op of a 2000-op chain of tiny Relu ops on one stream;',
    '(b) two independent conv chains joined by an Add, on 2 streams vs 1 — only meaningful on an otherwise',
    'idle machine (this workplace shares cores between sessions); (c) Inception-v3: sequential schedule on',
    'one stream with single- and two-threaded ops, the IOS-DP schedule (roofline cpu-2core costs) on two',
    'streams with single-threaded ops, and onnxruntime-node on the exported ONNX with 2 intra-op threads;',
    '(d) the planned arena of the sequential schedule against LOAD (peak live bytes measured by the executor)',
    'and the naive sum (one buffer per tensor), plus what the caching allocator reserved;',
    '(e) resident set size over 10,000 squeezenet1_1 runs after 500 warm-up runs.',
    '',
    '```',
    ...lines,
    '```',
    '',
  ].join('\n');
  if (opts.out) writeFileAtomic(opts.out, md);
  return md;
}
