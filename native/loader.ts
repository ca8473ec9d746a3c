/**
 * Finds and loads the compiled addon (sharp-style): tries every place a build can be and, when none
 * loads, throws one error listing each path with its failure and the command that builds it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The raw binding (see native/src/addon.cpp); use NativeExecutor rather than this. */
export interface NativeExecutorBinding {
  loadModel(doc: string, buffer: Uint8Array | ArrayBuffer): Promise<number>;
  modelInfo(model: number): string;
  unloadModel(model: number): void;
  prepare(model: number, doc: string): Promise<number>;
  release(prepared: number): void;
  run(doc: string, inputs: (ArrayBufferView | null)[][]): Promise<{ report: string; timeline: Float64Array; outputs: ArrayBuffer[][] }>;
  profile(prepared: number, opts: string): Promise<string>;
  createMeter(model: number): number;
  meterStage(meter: number, stage: string, opts: string): string;
  releaseMeter(meter: number): void;
  info(): string;
  memoryStats(resetPeaks?: boolean): string;
  trimMemory(): void;
  /** µs since the executor started, on the clock of report timestamps. */
  nowUs(): number;
  close(): void;
}

export interface NativeBinding {
  Executor: new (opts: { backend?: string; streams?: number; opThreads?: number; pin?: boolean }) => NativeExecutorBinding;
  dnnlVersion: string;
  cudaBuilt: boolean;
  abi: number;
}

export class NativeUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeUnavailableError';
  }
}

const ADDON = 'topsched_native.node';

/** The package root: the nearest directory above this file holding topsched's package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'topsched') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

export function addonCandidates(): string[] {
  const root = packageRoot();
  const env = process.env.TOPSCHED_NATIVE_PATH;
  return [
    ...(env ? [env] : []),
    join(root, 'native', 'build', 'Release', ADDON),
    join(root, 'native', 'build', 'Debug', ADDON),
    join(root, 'native', 'prebuilds', `${process.platform}-${process.arch}`, ADDON),
  ];
}

/** Spin rounds of an idle OpenMP team thread before it sleeps (libgomp counts about 100 per µs). */
export const OMP_SPIN_COUNT = '20000';

let binding: NativeBinding | undefined;
let failure: NativeUnavailableError | undefined;

export function loadNative(): NativeBinding {
  if (binding) return binding;
  if (failure) throw failure;
  const require = createRequire(import.meta.url);
  // oneDNN runs on OpenMP (libgomp), which reads its settings once, when the addon loads it.
  // libgomp's default has an idle team thread spin for about 3 ms before it sleeps; passive
  // waiting instead costs a futex wake-up per parallel region, which on this project's 2-core VMs
  // made MobileNetV2's 2-thread ops slower than 1-thread ones (a 6.5 MFLOP 1x1 conv: 63 µs on one
  // thread, 193 µs on two passive ones, 47 µs on two spinning ones). So a team spins briefly
  // (GOMP_SPINCOUNT, below), long enough to span the gap between consecutive ops; libgomp itself
  // cuts the spin to 100 rounds whenever its threads outnumber the cores (several executors or
  // streams with multi-threaded ops). Helper threads fork no teams (singleThreadedHelper in
  // backend.hpp) and close() ends an executor's streams, so only live streams' teams count.
  // OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment override this.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.GOMP_SPINCOUNT = OMP_SPIN_COUNT;
  const tried: string[] = [];
  for (const path of addonCandidates()) {
    if (!existsSync(path)) {
      tried.push(`  ${path}: not found`);
      continue;
    }
    try {
      const b = require(path) as NativeBinding;
      if (b.abi !== 1) throw new Error(`ABI ${b.abi}, this package expects 1 (rebuild it)`);
      binding = b;
      return b;
    } catch (e) {
      tried.push(`  ${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  failure = new NativeUnavailableError(
    [
      'The topsched native executor addon could not be loaded. Tried:',
      ...tried,
      'Build it with `npm run build:native` (needs a C++17 compiler, make, python3 and oneDNN:',
      '`apt-get install libdnnl-dev nlohmann-json3-dev`), or point TOPSCHED_NATIVE_PATH at a built topsched_native.node.',
    ].join('\n'),
  );
  throw failure;
}

/** Whether the addon loads (never throws). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}
