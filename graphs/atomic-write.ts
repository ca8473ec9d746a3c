/**
 * The one way topsched writes a result file: to a temporary beside the target, then renamed over
 * it, so a reader never sees half a file and a crash leaves the old file or the new one. The target
 * must name a file (a directory, or a path ending in a separator, is an error naming it), and a
 * failed write removes its temporary.
 */
import { mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, sep } from 'node:path';
import { GraphError } from './ir.js';

export class WriteError extends GraphError {
  constructor(path: string, message: string) {
    super(`cannot write: ${message}`, path);
    this.name = 'WriteError';
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  if (path.endsWith('/') || path.endsWith(sep)) throw new WriteError(path, 'the path names a directory; give a file name');
  try {
    if (statSync(path).isDirectory()) throw new WriteError(path, 'it is a directory; give a file name');
  } catch (e) {
    if (e instanceof WriteError) throw e;
    // absent: fine
  }
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new WriteError(path, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}
