/**
 * `topsched info`: which backends this installation can use — the native executor addon (where it
 * loaded from, oneDNN, threads), its CUDA backend (built? a device? else why not), the tfjs backend
 * the agents would pick, onnxruntime-node — plus Node and the machine. Missing pieces are reported,
 * never thrown: the point of the command is to say what is missing.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { addonCandidates, loadNative, NativeExecutor } from '../../native/index.js';
import { printJson, table } from '../format.js';
import { machineLine } from '../machine.js';
import { oneLine } from './native-target.js';

interface BackendRow {
  name: string;
  kind: string;
  available: boolean;
  detail: string;
}

function errorLine(e: unknown): string {
  return oneLine((e as Error).message ?? String(e));
}

/** The candidate the loader really loaded: Node's require cache holds it under its resolved path. */
function loadedAddonPath(): string | null {
  const cache = createRequire(import.meta.url).cache;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return addonCandidates().find((p) => cache[p] !== undefined || cache[real(p)] !== undefined) ?? null;
}

function nativeInfo() {
  try {
    const b = loadNative();
    const ex = new NativeExecutor({ streams: 1 });
    let info: Record<string, unknown>;
    try {
      info = ex.info();
    } finally {
      ex.close();
    }
    return { available: true as const, path: loadedAddonPath(), dnnl: b.dnnlVersion, cpuThreads: info.hardwareThreads ?? null, cudaBuilt: b.cudaBuilt, info };
  } catch (e) {
    return { available: false as const, error: errorLine(e), tried: addonCandidates() };
  }
}

function cudaInfo(built: boolean | undefined) {
  if (built === undefined) return { built: false, available: false, error: 'native addon not loaded' };
  try {
    const ex = new NativeExecutor({ backend: 'cuda', streams: 1 });
    try {
      return { built, available: true, info: ex.info() };
    } finally {
      ex.close();
    }
  } catch (e) {
    return { built, available: false, error: errorLine(e) };
  }
}

async function tfjsInfo() {
  try {
    // Imported here, not at the top: loading tfjs costs every other command its start-up time.
    const { initBackend } = await import('../../agents/backend.js');
    const b = await initBackend('auto', { log: () => {} });
    return { available: true, backend: b.name, choice: b.choice, skipped: b.skipped };
  } catch (e) {
    return { available: false, error: errorLine(e) };
  }
}

async function ortInfo() {
  try {
    const ort = await import('onnxruntime-node');
    return { available: true, version: ort.env.versions.node ?? ort.env.versions.common, executionProviders: ort.listSupportedBackends() };
  } catch (e) {
    return { available: false, error: errorLine(e) };
  }
}

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('report the backends found: native executor (cpu, cuda), tfjs backend, onnxruntime-node; Node version and machine')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  topsched info\n  topsched info --json | jq ".backends[] | select(.available) | .name"')
    .action(async (opts: { json?: boolean }) => {
      const native = nativeInfo();
      const cuda = cudaInfo(native.available ? native.cudaBuilt : undefined);
      const tfjs = await tfjsInfo();
      const ort = await ortInfo();
      const backends: BackendRow[] = [
        {
          name: 'cpu',
          kind: 'native executor (oneDNN)',
          available: native.available,
          detail: native.available ? `oneDNN ${native.dnnl}, ${native.cpuThreads} CPU threads, ${native.path ?? 'path unknown'}` : native.error,
        },
        {
          name: 'cuda',
          kind: 'native executor (CUDA)',
          available: cuda.available,
          detail: cuda.available
            ? Object.entries(cuda.info ?? {})
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')
            : (cuda.error ?? ''),
        },
        {
          name: tfjs.available ? `tfjs:${tfjs.backend}` : 'tfjs',
          kind: 'agents (tfjs)',
          available: tfjs.available,
          detail: tfjs.available
            ? `chose ${tfjs.choice}${tfjs.skipped?.length ? `; tried first: ${tfjs.skipped.map((s) => `${s.choice} (${s.reason})`).join('; ')}` : ''}`
            : (tfjs.error ?? ''),
        },
        {
          name: 'onnxruntime-node',
          kind: 'reference runtime',
          available: ort.available,
          detail: ort.available
            ? `${ort.version}, execution providers: ${ort.executionProviders?.map((p) => (p.bundled ? p.name : `${p.name} (not bundled)`)).join(', ')}`
            : (ort.error ?? ''),
        },
      ];
      const result = { backends, native, cuda, tfjs, onnxruntime: ort, node: process.version, machine: machineLine() };
      if (opts.json) return printJson(result);
      console.log(
        table(
          ['backend', 'for', 'found', 'detail'],
          backends.map((b) => [b.name, b.kind, b.available ? 'yes' : 'no', b.detail]),
        ),
      );
      console.log('');
      console.log(`machine: ${machineLine()}`);
    });
}
