import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerReproduce } from '../experiments/commands/reproduce.js';
import type { Experiment } from '../experiments/reproduce/experiment.js';
import { partitionSearch } from '../experiments/reproduce/partition-search.js';
import { reproduce, selectExperiments } from '../experiments/reproduce/run-all.js';

/** Three fake experiments: the middle one writes a partial file and then throws. */
function fakes(ran: string[]): Experiment[] {
  return [
    {
      name: 'alpha',
      minutes: 2,
      description: 'writes alpha.md and a plot',
      run: (outDir) => {
        ran.push('alpha');
        writeFileSync(join(outDir, 'alpha.md'), '# alpha\n');
        writeFileSync(join(outDir, 'alpha-plot.svg'), '<svg/>');
      },
    },
    {
      name: 'broken',
      minutes: 1.1,
      description: 'fails half-way',
      run: async (outDir) => {
        ran.push('broken');
        writeFileSync(join(outDir, 'broken-partial.md'), 'partial');
        throw new Error('native addon missing');
      },
    },
    {
      name: 'gamma',
      minutes: 3.2,
      description: 'writes gamma.md | with a pipe',
      run: async (outDir, log) => {
        ran.push('gamma');
        log('gamma progress');
        writeFileSync(join(outDir, 'gamma.md'), '# gamma\n');
      },
    },
  ];
}

const NOW = () => new Date('2026-11-22T01:02:03Z');

function collect() {
  const printed: string[] = [];
  const logged: string[] = [];
  return { printed, logged, print: (l: string) => printed.push(l), log: (l: string) => logged.push(l) };
}

afterEach(() => vi.restoreAllMocks());

describe('reproduce all', () => {
  it('prints the plan, continues after a failure, summarises, exits 1 and writes the index', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'repro-all-'));
    const ran: string[] = [];
    const c = collect();
    const res = await reproduce(fakes(ran), 'all', { outDir, print: c.print, log: c.log, now: NOW });

    // Every experiment ran, in registry order, although the second one threw.
    expect(ran).toEqual(['alpha', 'broken', 'gamma']);
    expect(res.exitCode).toBe(1);
    expect(res.outcomes.map((o) => [o.name, o.status])).toEqual([
      ['alpha', 'ok'],
      ['broken', 'failed'],
      ['gamma', 'ok'],
    ]);
    expect(res.outcomes[1].error).toBe('native addon missing');
    // Files are attributed to the experiment that wrote them, including a failed one's partial output.
    expect(res.outcomes.map((o) => o.files)).toEqual([['alpha-plot.svg', 'alpha.md'], ['broken-partial.md'], ['gamma.md']]);
    for (const o of res.outcomes) {
      expect(o.wallS).toBeGreaterThanOrEqual(0);
      expect(o.cpuS).toBeGreaterThanOrEqual(0);
    }

    // The plan comes first with each experiment's minutes and the total; the summary last.
    const out = c.printed.join('\n');
    expect(c.printed[0]).toMatch(/^Plan: 3 experiments, about 6.3 min /);
    expect(out.indexOf('Plan:')).toBeLessThan(out.indexOf('[1/3] alpha'));
    expect(out).toMatch(/alpha\s+2\s+writes alpha\.md/);
    expect(out).toContain('broken: FAILED — native addon missing');
    const summary = c.printed.slice(c.printed.lastIndexOf('') + 1).join('\n');
    expect(summary).toMatch(/experiment\s+status\s+wall time\s+cpu time\s+planned\s+files written/);
    expect(summary).toMatch(/alpha\s+ok\s+[\d.]+ s\s+[\d.]+ s\s+2 min\s+alpha-plot\.svg, alpha\.md/);
    expect(summary).toMatch(/broken\s+FAILED\s+[\d.]+ s\s+[\d.]+ s\s+1.1 min\s+broken-partial\.md/);
    expect(summary).toContain('2 of 3 succeeded');
    expect(summary).toContain('failed: broken');
    // Progress and the failure's stack go to the log, not the summary.
    expect(c.logged).toContain('gamma progress');
    expect(c.logged.some((l) => l.includes('native addon missing') && l.includes('at '))).toBe(true);

    // The index lists every experiment with its description, files and last run.
    const md = readFileSync(join(outDir, 'README.md'), 'utf8');
    expect(md).toContain('| `alpha` | writes alpha.md and a plot | [alpha-plot.svg](alpha-plot.svg), [alpha.md](alpha.md) | 2026-11-22 01:02 UTC,');
    expect(md).toContain('| `broken` | fails half-way | [broken-partial.md](broken-partial.md) | 2026-11-22 01:02 UTC,');
    expect(md).toContain('**failed**: native addon missing');
    expect(md).toContain('writes gamma.md \\| with a pipe'); // a pipe in a description must not break the table
    expect(md).toContain('all 3 (about 6.3 min'); // 2 + 1.1 + 3.2, without float noise
    const index = JSON.parse(readFileSync(join(outDir, 'index.json'), 'utf8'));
    expect(Object.keys(index).sort()).toEqual(['alpha', 'broken', 'gamma']);
    expect(index.broken.status).toBe('failed');
    expect(readFileSync(join(outDir, 'README.md'), 'utf8')).not.toContain('.tmp-');
  });

  it('--only / --skip pick a subset; the index keeps the other experiments from earlier runs', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'repro-only-'));
    const ran: string[] = [];
    const list = fakes(ran);
    const res = await reproduce(list, 'all', { outDir, only: 'gamma', ...collect(), now: NOW });
    expect(ran).toEqual(['gamma']);
    expect(res.exitCode).toBe(0);
    let md = readFileSync(join(outDir, 'README.md'), 'utf8');
    expect(md).toMatch(/\| `alpha` \| writes alpha.md and a plot \| — \| not run yet \| 2 min \|/);
    expect(md).toMatch(/\| `gamma` .*\[gamma\.md\]\(gamma\.md\) \| 2026-11-22 01:02 UTC/);

    const res2 = await reproduce(list, 'all', { outDir, skip: 'broken, gamma', ...collect(), now: () => new Date('2026-11-23T00:00:00Z') });
    expect(ran).toEqual(['gamma', 'alpha']);
    expect(res2.exitCode).toBe(0);
    md = readFileSync(join(outDir, 'README.md'), 'utf8');
    expect(md).toMatch(/\| `alpha` .*\| 2026-11-23 00:00 UTC/);
    expect(md).toMatch(/\| `gamma` .*\| 2026-11-22 01:02 UTC/);
    expect(md).toMatch(/\| `broken` .*\| not run yet \|/);

    // A single experiment by name also updates the index.
    await reproduce(list, 'broken', { outDir, ...collect(), now: NOW });
    expect(readFileSync(join(outDir, 'README.md'), 'utf8')).toMatch(/\| `broken` .*\*\*failed\*\*/);
  });

  it('rejects unknown names and flags that do not fit', () => {
    const list = fakes([]);
    expect(() => selectExperiments(list, 'all', 'alpha,nope')).toThrow("--only: unknown experiment 'nope' (known: alpha, broken, gamma)");
    expect(() => selectExperiments(list, 'all', undefined, 'zzz')).toThrow("--skip: unknown experiment 'zzz'");
    expect(() => selectExperiments(list, 'all', 'alpha', 'alpha')).toThrow('left no experiment');
    expect(() => selectExperiments(list, 'alpha', 'gamma')).toThrow("go with 'all'");
    expect(() => selectExperiments(list, 'delta')).toThrow("unknown experiment 'delta'");
    expect(selectExperiments(list, 'all', undefined, 'broken').map((e) => e.name)).toEqual(['alpha', 'gamma']);
  });

  it('the CLI command exits with an error naming the failed experiments, after running the rest', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'repro-cli-'));
    const ran: string[] = [];
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    const program = new Command().exitOverride();
    registerReproduce(program, fakes(ran));
    await expect(program.parseAsync(['node', 'topsched', 'reproduce', 'all', '--out-dir', outDir, '--quiet'])).rejects.toThrow(
      '1 of 3 experiments failed: broken',
    );
    expect(ran).toEqual(['alpha', 'broken', 'gamma']);
    expect(stdout.join('')).toContain('2 of 3 succeeded');

    const ok = new Command().exitOverride();
    registerReproduce(ok, fakes(ran));
    await ok.parseAsync(['node', 'topsched', 'reproduce', 'all', '--out-dir', outDir, '--quiet', '--skip', 'broken']);
    expect(stdout.join('')).toContain('2 of 2 succeeded');
  });
});

describe('partition-search at tiny scale', () => {
  it('writes its tables, verdict and both plots', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'repro-ps-'));
    const out = join(outDir, 'partition-search.md');
    const md = await partitionSearch({ out, models: ['squeezenet1_1', 'din'], costs: ['roofline:v100'] });
    expect(readFileSync(out, 'utf8')).toBe(md);
    for (const base of ['partition-search-speedup', 'partition-search-time']) {
      for (const ext of ['svg', 'png']) expect(existsSync(join(outDir, `${base}.${ext}`))).toBe(true);
      expect(md).toContain(`![`);
      expect(md).toContain(`(${base}.png)`);
    }
    expect(readFileSync(join(outDir, 'partition-search-speedup.svg'), 'utf8')).toContain('squeezenet1_1');
    expect(md).toMatch(/^Machine: /m);
    expect(md).toMatch(/^Backend: cost-model predictions \(roofline:v100/m);
    expect(md).toContain('Command: `npx topsched reproduce partition-search`');
    expect(md).toContain('Scale: reduced — 2 models (squeezenet1_1, din)');
    // The optimised graph is searched; the imported graph is compared beside it (SqueezeNet: 65 → 39 ops).
    expect(md).toContain('IOS-DP on the graph as imported → on the optimised graph');
    expect(md).toMatch(/squeezenet1_1\s+65 → 39 /);
    // One row per model; the DP never predicts a slower schedule than sequential, and the verdict says how often it beat greedy.
    for (const model of ['squeezenet1_1', 'din']) {
      const row = md.split('\n').find((l) => l.startsWith(model)) as string;
      const cells = row.trim().split(/\s+/);
      const [seq, greedy, dp] = cells.slice(2, 5).map(Number);
      expect(dp).toBeLessThanOrEqual(seq);
      expect(dp).toBeLessThanOrEqual(greedy + 1e-3);
      // The speed-up is computed before the latencies are rounded to 3 decimals.
      expect(cells[5]).toMatch(/^\d+\.\d\d×$/);
      expect(Math.abs(Number.parseFloat(cells[5]) - seq / dp)).toBeLessThanOrEqual(0.006);
    }
    expect(md).toMatch(/strictly faster than greedy on \d of 2 \(model, cost model\) pairs/);
  });
});
