/**
 * Fixed-width bitsets over the operators of one DP part (local indices 0..n-1), stored as 32-bit
 * words in a Uint32Array. The DP memo is keyed by the set: a plain number when the part has at most
 * 53 operators (two words fit a double exactly), else the words joined into a string. Numbers keep
 * the hot path free of allocation; IOS's default part size (50) always takes it.
 */

export type SetKey = number | string;

/** Largest part whose sets key as exact doubles: the high word must stay below 2^21. */
export const NUMERIC_KEY_BITS = 53;

export function wordsFor(n: number): number {
  return Math.max(1, Math.ceil(n / 32));
}

export function has(s: Uint32Array, i: number): boolean {
  return ((s[i >>> 5] >>> (i & 31)) & 1) === 1;
}

export function add(s: Uint32Array, i: number): void {
  s[i >>> 5] |= 1 << (i & 31);
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function size(s: Uint32Array): number {
  let c = 0;
  for (let w = 0; w < s.length; w++) c += popcount32(s[w]);
  return c;
}

export function isEmpty(s: Uint32Array): boolean {
  for (let w = 0; w < s.length; w++) if (s[w] !== 0) return false;
  return true;
}

/** |a ∩ b| */
export function andCount(a: Uint32Array, b: Uint32Array): number {
  let c = 0;
  for (let w = 0; w < a.length; w++) c += popcount32(a[w] & b[w]);
  return c;
}

export function intersects(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if ((a[w] & b[w]) !== 0) return true;
  return false;
}

/** Whether a ⊆ b. */
export function subsetOf(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if ((a[w] & ~b[w]) !== 0) return false;
  return true;
}

/** Members in ascending order. */
export function members(s: Uint32Array): number[] {
  const out: number[] = [];
  for (let w = 0; w < s.length; w++) {
    let x = s[w];
    while (x !== 0) {
      const low = x & -x;
      out.push(w * 32 + 31 - Math.clz32(low));
      x ^= low;
    }
  }
  return out;
}

export function fromMembers(n: number, ids: Iterable<number>): Uint32Array {
  const s = new Uint32Array(wordsFor(n));
  for (const i of ids) add(s, i);
  return s;
}

/** Key of a set; `numeric` must be true exactly when the universe has ≤ 53 elements. */
export function keyOf(s: Uint32Array, numeric: boolean): SetKey {
  if (numeric) return s.length === 1 ? s[0] : s[0] + s[1] * 4294967296;
  return s.join(',');
}

/** Key of a − b without materialising it (the DP's hot path). */
export function keyOfDiff(a: Uint32Array, b: Uint32Array, numeric: boolean): SetKey {
  if (numeric) return a.length === 1 ? (a[0] & ~b[0]) >>> 0 : ((a[0] & ~b[0]) >>> 0) + ((a[1] & ~b[1]) >>> 0) * 4294967296;
  let k = '';
  for (let w = 0; w < a.length; w++) k += w ? `,${(a[w] & ~b[w]) >>> 0}` : `${(a[w] & ~b[w]) >>> 0}`;
  return k;
}

export function diff(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  for (let w = 0; w < a.length; w++) out[w] = a[w] & ~b[w];
  return out;
}
