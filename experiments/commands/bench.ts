/** `topsched bench`: the project's speed and memory targets (experiments/bench.ts), side by side. */
import type { Command } from 'commander';
import { printJson } from '../format.js';
import { intOption } from './options.js';

/** Mirrors experiments/bench.ts's BENCH_SECTIONS, which is imported only when the command runs (it loads tfjs). */
export const BENCH_SECTION_NAMES = ['native', 'sim', 'agents', 'graphs', 'harness', 'serve'] as const;

export function registerBench(program: Command): void {
  program
    .command('bench [sections...]')
    .description(`measure the speed and memory targets; sections: ${BENCH_SECTION_NAMES.join(' | ')} (default: all)`)
    .option('--leak-runs <n>', 'native: runs of the RSS drift check (the target is stated for 10,000)', intOption('--leak-runs'), 10_000)
    .option('--json', 'print JSON (no tables)')
    .addHelpText('after', '\nExamples:\n  topsched bench\n  topsched bench native --leak-runs 1000\n  topsched bench sim agents --json')
    .action(async (sections: string[], opts: { leakRuns: number; json?: boolean }) => {
      const { BENCH_SECTIONS, runBench } = await import('../bench.js');
      for (const s of sections)
        if (!(BENCH_SECTIONS as readonly string[]).includes(s)) throw new Error(`unknown bench section '${s}' (sections: ${BENCH_SECTIONS.join(', ')})`);
      const result = await runBench({
        sections: sections as (typeof BENCH_SECTIONS)[number][],
        leakRuns: opts.leakRuns,
        print: opts.json ? () => {} : undefined,
      });
      if (opts.json) printJson(result);
    });
}
