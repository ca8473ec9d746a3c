/**
 * Roles of imported initializers (weight, bias, BatchNorm statistics, ...): from topsched's own
 * doc_string when the file was written by `exportOnnx`, otherwise from the first op that reads them.
 */
import type { Initializer, InitRole } from '../ir.js';

/** IR role and trainability of an initializer from its first use (or from topsched's own doc string). */
export function roleOf(op: string, pos: number, init: Initializer): { role: InitRole; trainable: boolean } | undefined {
  if (init.dtype === 'int64') return { role: 'const', trainable: false };
  switch (op) {
    case 'Conv':
    case 'ConvTranspose':
    case 'Gemm':
      if (pos === 1 || (op === 'Gemm' && pos === 0)) return { role: 'weight', trainable: true };
      if (pos === 2) return { role: 'bias', trainable: true };
      return undefined;
    case 'MatMul':
      return { role: 'weight', trainable: true };
    case 'BatchNormalization':
      return (
        [
          undefined,
          { role: 'gamma', trainable: true },
          { role: 'beta', trainable: true },
          { role: 'mean', trainable: false },
          { role: 'var', trainable: false },
        ] as const
      )[pos];
    case 'LayerNormalization':
      return pos === 1 ? { role: 'gamma', trainable: true } : pos === 2 ? { role: 'beta', trainable: true } : undefined;
    case 'LSTM':
    case 'GRU':
      if (pos === 1 || pos === 2) return { role: 'weight', trainable: true };
      if (pos === 3) return { role: 'bias', trainable: true };
      // 4, 5: initial states (constants); 6: LSTM peepholes (learned).
      return pos === 6 ? { role: 'weight', trainable: true } : { role: 'const', trainable: false };
    case 'Gather':
      return pos === 0 ? { role: 'embedding', trainable: true } : undefined;
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      // Scalars are fixed constants (attention's 1/sqrt(d), ...); vectors after a layer are learned.
      if (init.shape.reduce((a, b) => a * b, 1) === 1) return { role: 'const', trainable: false };
      return op === 'Add' || op === 'Sub' ? { role: 'bias', trainable: true } : { role: 'gamma', trainable: true };
    }
    default:
      return undefined;
  }
}

const ROLES = new Set<unknown>(['weight', 'bias', 'gamma', 'beta', 'mean', 'var', 'embedding', 'const'] satisfies InitRole[]);

/** topsched writes `{"topsched":{"role":..,"trainable":..}}` into each initializer's doc_string. */
export function docRole(doc: string | null | undefined): { role: InitRole; trainable: boolean } | undefined {
  if (!doc?.startsWith('{"topsched"')) return undefined;
  try {
    const m = JSON.parse(doc).topsched;
    if (ROLES.has(m?.role) && typeof m?.trainable === 'boolean') return { role: m.role, trainable: m.trainable };
  } catch {
    /* a foreign doc string that happens to start the same way: fall back to positions */
  }
  return undefined;
}
