/**
 * Resource limits, checked before anything is allocated or read, so that a hostile or mistaken
 * input (a 156-byte ONNX that expands to 16 GiB, a batch of 2000, a symlink to /dev/zero) gets an
 * error naming the tensor or file instead of exhausting memory.
 *
 *  - Memory limit: the most bytes one tensor, one model's weights, or one run's activations may
 *    take. Default: half of the memory that is free when the limit is first read. Set it with
 *    `TOPSCHED_MEMORY_LIMIT` (bytes, or with a K/M/G/T suffix), the CLI's `--memory-limit`, or
 *    `setMemoryLimit`.
 *  - File-size limit: the largest model, schedule, config or trace file read. Default 2 GiB; set
 *    it with `TOPSCHED_MAX_FILE_BYTES` or `setMaxFileBytes`. Only regular files are read (a device,
 *    FIFO or directory is refused), and no more than the limit is ever read even if the file grows.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { freemem } from 'node:os';
import { GraphError } from './ir.js';

/** A graph-level error (a GraphError) about a size or file over a limit. */
export class LimitError extends GraphError {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** `8G`, `512M`, `1073741824` → bytes; throws naming `what` when malformed. */
export function parseByteSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new LimitError(`${what}: expected a size such as 8G, 512M or 1073741824, got ${JSON.stringify(text)}`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new LimitError(`${what}: ${JSON.stringify(text)} is not a positive size`);
  return bytes;
}

let memoryLimit: number | undefined;
let fileLimit: number | undefined;

export function memoryLimitBytes(): number {
  if (memoryLimit === undefined) {
    const env = process.env.TOPSCHED_MEMORY_LIMIT;
    memoryLimit = env ? parseByteSize(env, 'TOPSCHED_MEMORY_LIMIT') : Math.max(256 * 2 ** 20, Math.floor(freemem() / 2));
  }
  return memoryLimit;
}

/** Sets the memory limit (bytes); undefined restores the default. */
export function setMemoryLimit(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0))
    throw new LimitError(`memory limit must be a positive integer of bytes, got ${bytes}`);
  memoryLimit = bytes;
}

export function maxFileBytes(): number {
  if (fileLimit === undefined) {
    const env = process.env.TOPSCHED_MAX_FILE_BYTES;
    fileLimit = env ? parseByteSize(env, 'TOPSCHED_MAX_FILE_BYTES') : 2 * 2 ** 30;
  }
  return fileLimit;
}

export function setMaxFileBytes(bytes: number | undefined): void {
  if (bytes !== undefined && !(Number.isSafeInteger(bytes) && bytes > 0))
    throw new LimitError(`file-size limit must be a positive integer of bytes, got ${bytes}`);
  fileLimit = bytes;
}

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Throws naming `what` when `bytes` is not a finite size within the memory limit. */
export function checkAllocation(bytes: number, what: string): void {
  const limit = memoryLimitBytes();
  if (!Number.isFinite(bytes) || bytes < 0 || bytes > limit)
    throw new LimitError(
      `${what} needs ${formatBytes(bytes)}, over the memory limit of ${formatBytes(limit)} (raise it with --memory-limit or TOPSCHED_MEMORY_LIMIT)`,
    );
}

/**
 * Reads a regular file of at most the file-size limit. Errors name the file and what it was meant
 * to be (`what`: 'model', 'schedule', ...).
 */
export function readFileBounded(path: string, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LimitError(`${path}: cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new LimitError(`${path}: cannot read ${what}: not a regular file (a ${st.isDirectory() ? 'directory' : 'device, pipe or socket'})`);
    const limit = maxFileBytes();
    if (st.size > limit)
      throw new LimitError(`${path}: ${what} file is ${formatBytes(st.size)}, over the file-size limit of ${formatBytes(limit)} (TOPSCHED_MAX_FILE_BYTES)`);
    const buf = Buffer.allocUnsafe(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === st.size ? buf : buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

export function readTextBounded(path: string, what: string): string {
  return readFileBounded(path, what).toString('utf8');
}
