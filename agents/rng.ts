/**
 * Seeded random streams whose state can be saved and restored exactly (seedrandom's Alea with
 * `{state: true}`): a checkpoint stores `state()` and a resumed run continues the same sequence.
 */
import seedrandom from 'seedrandom';

export type RngState = seedrandom.State.Alea;

export interface Rng {
  (): number;
  state(): RngState;
}

export function makeRng(seed: string | number): Rng {
  return seedrandom.alea(String(seed), { state: true }) as Rng;
}

export function restoreRng(state: RngState, where = 'rng state'): Rng {
  for (const k of ['c', 's0', 's1', 's2'] as const) {
    if (typeof state?.[k] !== 'number') throw new Error(`${where}: field '${k}' is missing or not a number`);
  }
  return seedrandom.alea('', { state }) as Rng;
}

/** A 31-bit integer seed derived from a base seed and a label (episode seeds, per-network seeds). */
export function deriveSeed(base: number | string, label: string | number): number {
  return seedrandom.alea(`${base}/${label}`).int32() >>> 1;
}
