/**
 * Picks the tfjs backend at run time, most capable first:
 *   @tensorflow/tfjs-node-gpu (CUDA) → @tensorflow/tfjs-node (native TF CPU) → wasm (XNNPACK) → cpu (plain JS).
 *
 * The native packages are optional dependencies whose installer downloads libtensorflow, so on many
 * machines they are absent; each candidate is tried with a dynamic `import()` and skipped with the
 * reason logged. The wasm binaries ship inside the npm package, so `setWasmPaths` points at the
 * package's dist/ folder as a file path (no network).
 *
 * The wasm backend has no gradient kernels for `UnsortedSegmentSum` (the gradient of `gather`), so
 * every network in agents/ sticks to dense ops (matmul, one-hot products, dense adjacency).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name now active: 'tensorflow' (tfjs-node / tfjs-node-gpu), 'wasm' or 'cpu'. */
  name: string;
  /** Which candidate won ('tensorflow-gpu' and 'tensorflow' both register tfjs backend 'tensorflow'). */
  choice: Exclude<BackendChoice, 'auto'>;
  /** Candidates tried before it, with why they were skipped. */
  skipped: { choice: BackendChoice; reason: string }[];
}

export interface InitBackendOptions {
  /** Where the one-line report goes; default stderr. Pass `() => {}` to silence it. */
  log?: (line: string) => void;
}

// A variable specifier keeps TypeScript from resolving packages that may not be installed.
async function importOptional(spec: string): Promise<unknown> {
  return import(spec);
}

/** The folder holding tfjs-backend-wasm's .wasm files, with a trailing separator as setWasmPaths wants. */
export function wasmDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  // main resolves to .../tfjs-backend-wasm/dist/<bundle>.js; the binaries sit next to it.
  return path.dirname(main) + path.sep;
}

async function tryChoice(choice: Exclude<BackendChoice, 'auto'>): Promise<void> {
  switch (choice) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      await importOptional(choice === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error("package loaded but backend 'tensorflow' did not initialise");
      return;
    }
    case 'wasm': {
      const wasm = (await importOptional('@tensorflow/tfjs-backend-wasm')) as { setWasmPaths(p: string): void };
      wasm.setWasmPaths(wasmDir());
      if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm' did not initialise (see the warning above)");
      return;
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) throw new Error("backend 'cpu' did not initialise");
      return;
    }
  }
}

let current: BackendInfo | undefined;

/** The backend chosen by the last `initBackend` call, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * Selects a backend. `preferred` (or env TOPSCHED_TFJS_BACKEND) names one candidate to try first;
 * 'auto' (default) walks the whole order. A named choice that fails falls through to the rest of
 * the order (the reason is logged), so a run never dies for want of a fast backend.
 */
export async function initBackend(preferred?: BackendChoice, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const want = preferred ?? (process.env.TOPSCHED_TFJS_BACKEND as BackendChoice | undefined) ?? 'auto';
  if (!BACKEND_CHOICES.includes(want)) throw new Error(`initBackend: unknown backend '${want}' (choices: ${BACKEND_CHOICES.join(', ')})`);
  const order: Exclude<BackendChoice, 'auto'>[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
  const candidates = want === 'auto' ? order : [want, ...order.filter((c) => c !== want)];
  if (current && current.choice === candidates[0] && tf.getBackend() === current.name) return current;
  // The cpu backend prints a "use tfjs-node" banner on first use; it is noise once we chose it knowingly.
  tf.env().set('PROD', true);
  const skipped: BackendInfo['skipped'] = [];
  for (const choice of candidates) {
    try {
      await tryChoice(choice);
      await tf.ready();
      current = { name: tf.getBackend(), choice, skipped };
      const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
      const why = skipped.length ? ` (skipped: ${skipped.map((s) => `${s.choice}: ${s.reason}`).join('; ')})` : '';
      log(`[topsched] tfjs backend: ${current.name}${why}`);
      return current;
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      skipped.push({ choice, reason: msg.split('\n')[0].slice(0, 160) });
    }
  }
  throw new Error(`initBackend: no tfjs backend could start: ${skipped.map((s) => `${s.choice}: ${s.reason}`).join('; ')}`);
}
