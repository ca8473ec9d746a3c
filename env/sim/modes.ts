/**
 * How the simulated device is shared between models, and how data reaches it.
 *
 * Parallel modes (how concurrent tasks of different models share the GPU):
 *  - `streams`  One context, S streams shared by every model (how work meets streams: the
 *               simulator's `streamPolicy`). All running ops contend for the whole device
 *               (contention.ts).
 *  - `contexts` One context (process) per model, each with its own S streams, time-sliced: only
 *               the active model's ops run. The device
 *               stays on a model while it has work and its time slice (`timeSliceMs`) has not run
 *               out; then, once its running ops finish (kernels are not preempted), it pays
 *               `contextSwitchMs` with every stream idle and moves to the next model with ready
 *               work, round robin. No cross-model contention, but no cross-model overlap either.
 *  - `mps`      One MPS client per model, each with its own S streams (spatial sharing). Client c
 *               is capped at `mpsShare[c]` of the device (CUDA_MPS_ACTIVE_THREAD_PERCENTAGE):
 *               its ops' demand counts against that cap (contention.ts), and all clients together
 *               against the whole device.
 *
 * Host transfers (inputs host→device before the first stage, outputs device→host after the last):
 *  - `none`     not modelled (inputs already on the device).
 *  - `pinned`   page-locked buffers: DMA on a copy engine per direction (one H2D, one D2H, FIFO),
 *               at `pinnedGBps`; overlaps compute — no stream is held.
 *  - `pageable` pageable buffers: the driver stages them through a pinned bounce buffer
 *               synchronously, so the copy holds one of the task's streams for its duration and
 *               moves at `pageableGBps` (pinned is typically 2–3× faster).
 * Pipeline (`pipeline: true`): pre-processing on `preprocWorkers` CPU workers
 * (`preprocMsPerSample` × batch per task, FIFO) → H2D → inference → D2H; consecutive tasks
 * overlap across the four resources. It needs transfers; `none` becomes `pinned`.
 */
import type { DeviceSpec } from '../../graphs/cost/roofline.js';
import { EnvError } from '../core.js';

export type ParallelMode = 'streams' | 'contexts' | 'mps';
export type TransferMode = 'none' | 'pinned' | 'pageable';
export const PARALLEL_MODES: readonly ParallelMode[] = ['streams', 'contexts', 'mps'];
export const TRANSFER_MODES: readonly TransferMode[] = ['none', 'pinned', 'pageable'];

export interface ModeOptions {
  mode?: ParallelMode;
  /** Streams of the device (`streams`) or of each model's context / MPS client. Default 4. */
  streams?: number;
  /** `contexts`: idle time of a context switch, ms. Default 0.1. */
  contextSwitchMs?: number;
  /** `contexts`: longest a model keeps the device while another waits, ms. Default 2. */
  timeSliceMs?: number;
  /** `mps`: device share cap per client (one number for all, or one per model). Default 1 / models. */
  mpsShare?: number | number[];
  transfers?: TransferMode;
  /** Host↔device bandwidth with pinned buffers, GB/s (PCIe 3.0 x16 measures ~12). Default 12. */
  pinnedGBps?: number;
  /** With pageable buffers, GB/s. Default 5 (pinned/pageable ≈ 2.4). */
  pageableGBps?: number;
  pipeline?: boolean;
  /** CPU pre-processing per sample (decode, resize, normalise), ms. Default 0.5. */
  preprocMsPerSample?: number;
  preprocWorkers?: number;
}

export interface ResolvedModes {
  mode: ParallelMode;
  streams: number;
  contextSwitchMs: number;
  timeSliceMs: number;
  /** Per model. */
  mpsShare: Float64Array;
  transfers: TransferMode;
  pinnedGBps: number;
  pageableGBps: number;
  pipeline: boolean;
  preprocMsPerSample: number;
  preprocWorkers: number;
}

function positive(name: string, v: number, integer = false): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new EnvError(`must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`, `option '${name}'`);
  }
  return v;
}

function nonNegative(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v))
    throw new EnvError(`must be a non-negative number, got ${JSON.stringify(v)}`, `option '${name}'`);
  return v;
}

export function resolveModes(o: ModeOptions, models: number): ResolvedModes {
  const mode = o.mode ?? 'streams';
  if (!PARALLEL_MODES.includes(mode)) throw new EnvError(`must be one of ${PARALLEL_MODES.join(' | ')}, got ${JSON.stringify(mode)}`, `option 'mode'`);
  let transfers = o.transfers ?? 'none';
  if (!TRANSFER_MODES.includes(transfers))
    throw new EnvError(`must be one of ${TRANSFER_MODES.join(' | ')}, got ${JSON.stringify(transfers)}`, `option 'transfers'`);
  const pipeline = o.pipeline ?? false;
  if (pipeline && transfers === 'none') transfers = 'pinned';
  const share = o.mpsShare ?? 1 / models;
  const shares = typeof share === 'number' ? new Array(models).fill(share) : share;
  if (!Array.isArray(shares) || shares.length !== models)
    throw new EnvError(`needs one share per model (${models}), got ${JSON.stringify(share)}`, `option 'mpsShare'`);
  shares.forEach((s, i) => {
    positive(`mpsShare[${i}]`, s);
    if (s > 1) throw new EnvError(`must be at most 1, got ${s}`, `option 'mpsShare[${i}]'`);
  });
  return {
    mode,
    streams: positive('streams', o.streams ?? 4, true),
    contextSwitchMs: nonNegative('contextSwitchMs', o.contextSwitchMs ?? 0.1),
    timeSliceMs: positive('timeSliceMs', o.timeSliceMs ?? 2),
    mpsShare: Float64Array.from(shares),
    transfers,
    pinnedGBps: positive('pinnedGBps', o.pinnedGBps ?? 12),
    pageableGBps: positive('pageableGBps', o.pageableGBps ?? 5),
    pipeline,
    preprocMsPerSample: nonNegative('preprocMsPerSample', o.preprocMsPerSample ?? 0.5),
    preprocWorkers: positive('preprocWorkers', o.preprocWorkers ?? 2, true),
  };
}

/** Host↔device copy time of `bytes`, ms. */
export function transferMs(m: ResolvedModes, bytes: number): number {
  const gbps = m.transfers === 'pageable' ? m.pageableGBps : m.pinnedGBps;
  return bytes / (gbps * 1e6);
}

/**
 * The page-fault penalty of unified-memory oversubscription: when the resident set exceeds device
 * capacity C, a fraction f = (used − C) / used of what kernels touch lives on the host and is
 * faulted in over the interconnect. A memory-bound kernel then takes (1 − f) + f · (B_dev / B_host)
 * of its time, i.e. a slowdown 1 + κ f with κ = B_dev / B_host − 1. We apply it to every op (an
 * upper bound for compute-bound ops); κ defaults to that bandwidth ratio with pinned host bandwidth.
 */
export function defaultPageFaultPenalty(device: DeviceSpec, m: ResolvedModes): number {
  return Math.max(0, device.memBandwidth / (m.pinnedGBps * 1e9) - 1);
}

export function memorySlowdown(usedBytes: number, capacityBytes: number, penalty: number): number {
  if (usedBytes <= capacityBytes) return 1;
  return 1 + (penalty * (usedBytes - capacityBytes)) / usedBytes;
}
