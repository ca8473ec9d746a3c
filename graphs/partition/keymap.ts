/**
 * Set-keyed number tables for the DP's memo and stage-latency caches. Inception-v3 prices about a
 * million distinct stages; a JS Map of that size spends more time hashing and rehashing than the
 * cost model spends pricing, so numeric keys (parts of ≤ 53 operators) go to an open-addressing
 * table over typed arrays. String keys (larger parts) use a Map.
 */
import type { SetKey } from './bitset.js';

export interface KeyMap {
  readonly size: number;
  get(key: SetKey): number | undefined;
  set(key: SetKey, value: number): void;
}

/** Open addressing with linear probing; keys are non-negative integers below 2^53, -1 marks empty. */
class NumericKeyMap implements KeyMap {
  private keys: Float64Array;
  private vals: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity).fill(-1);
    this.vals = new Float64Array(capacity);
    this.mask = capacity - 1;
  }

  private static slot(key: number, mask: number): number {
    const lo = key >>> 0;
    const hi = Math.floor(key / 4294967296) | 0;
    // murmur3's finaliser: bitset keys differ in few, clustered bits, so mix them all down.
    let h = lo ^ Math.imul(hi, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & mask;
  }

  get(key: SetKey): number | undefined {
    const k = key as number;
    const keys = this.keys;
    for (let i = NumericKeyMap.slot(k, this.mask); ; i = (i + 1) & this.mask) {
      const x = keys[i];
      if (x === k) return this.vals[i];
      if (x === -1) return undefined;
    }
  }

  set(key: SetKey, value: number): void {
    const k = key as number;
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    for (let i = NumericKeyMap.slot(k, this.mask); ; i = (i + 1) & this.mask) {
      const x = keys[i];
      if (x === k) {
        this.vals[i] = value;
        return;
      }
      if (x === -1) {
        keys[i] = k;
        this.vals[i] = value;
        this.size++;
        return;
      }
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(oldKeys.length * 2).fill(-1);
    this.vals = new Float64Array(oldKeys.length * 2);
    this.mask = this.keys.length - 1;
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== -1) this.set(oldKeys[i], oldVals[i]);
  }
}

class StringKeyMap implements KeyMap {
  private readonly map = new Map<SetKey, number>();
  get size(): number {
    return this.map.size;
  }
  get(key: SetKey): number | undefined {
    return this.map.get(key);
  }
  set(key: SetKey, value: number): void {
    this.map.set(key, value);
  }
}

export function makeKeyMap(numeric: boolean): KeyMap {
  return numeric ? new NumericKeyMap() : new StringKeyMap();
}
