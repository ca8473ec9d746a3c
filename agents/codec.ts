/**
 * Turns env spaces into network inputs and outputs:
 *  - observations of any space (Box, Discrete, MultiDiscrete, Dict of them) flatten to one
 *    Float32Array (Box as is, discrete parts one-hot), the layout of env/spaces.ts `flatDim`;
 *  - discrete action spaces (Discrete, MultiDiscrete, Dict of them) become a list of categorical
 *    heads, and head indices decode back into the env's action value.
 * Errors name the agent and the part of the space that does not fit.
 */
import { Box, Dict, Discrete, flatDim, MultiDiscrete, type Space } from '../env/spaces.js';

/** Writes the flat encoding of `value` into `out` at `offset`; returns the next offset. */
export function flattenInto(space: Space<unknown>, value: unknown, out: Float32Array, offset: number, where: string): number {
  if (space instanceof Box) {
    const v = value as ArrayLike<number>;
    if (!v || typeof v !== 'object' || v.length !== space.size) throw new Error(`${where}: expected ${space.size} floats for ${space}, got ${describe(value)}`);
    for (let i = 0; i < space.size; i++) out[offset + i] = v[i];
    return offset + space.size;
  }
  if (space instanceof Discrete) {
    const k = (value as number) - space.start;
    if (!Number.isInteger(k) || k < 0 || k >= space.n) throw new Error(`${where}: ${describe(value)} is not in ${space}`);
    out.fill(0, offset, offset + space.n);
    out[offset + k] = 1;
    return offset + space.n;
  }
  if (space instanceof MultiDiscrete) {
    const v = value as ArrayLike<number>;
    if (!v || v.length !== space.nvec.length) throw new Error(`${where}: expected ${space.nvec.length} integers for ${space}, got ${describe(value)}`);
    let off = offset;
    for (let i = 0; i < space.nvec.length; i++) {
      const n = space.nvec[i];
      if (!Number.isInteger(v[i]) || v[i] < 0 || v[i] >= n) throw new Error(`${where}[${i}]: ${v[i]} is outside 0..${n - 1}`);
      out.fill(0, off, off + n);
      out[off + v[i]] = 1;
      off += n;
    }
    return off;
  }
  if (space instanceof Dict) {
    const obj = value as Record<string, unknown>;
    if (!obj || typeof obj !== 'object') throw new Error(`${where}: expected an object for ${space}, got ${describe(value)}`);
    let off = offset;
    for (const [k, s] of Object.entries(space.spaces)) off = flattenInto(s, obj[k], out, off, `${where}.${k}`);
    return off;
  }
  throw new Error(`${where}: cannot flatten ${space} (Box, Discrete, MultiDiscrete, Dict are supported)`);
}

export function flatten(space: Space<unknown>, value: unknown, where = 'observation'): Float32Array {
  const out = new Float32Array(flatDim(space));
  flattenInto(space, value, out, 0, where);
  return out;
}

function describe(x: unknown): string {
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as unknown as ArrayLike<number>).length})`;
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Categorical heads of a discrete action space and the map between head indices and env actions. */
export interface ActionCodec {
  heads: number[];
  /** Σ heads: the width of a one-hot action row. */
  width: number;
  decode(indices: ArrayLike<number>): unknown;
  encode(action: unknown): Int32Array;
}

interface HeadPart {
  heads: number[];
  decode(ix: ArrayLike<number>, at: number): unknown;
  encode(a: unknown, out: number[]): void;
}

export function actionCodec(space: Space<unknown>, where = 'action space'): ActionCodec {
  const build = (s: Space<unknown>, w: string): HeadPart => {
    if (s instanceof Discrete)
      return {
        heads: [s.n],
        decode: (ix, at) => s.start + ix[at],
        encode: (a, out) => {
          if (!s.contains(a)) throw new Error(`${w}: ${describe(a)} is not in ${s}`);
          out.push((a as number) - s.start);
        },
      };
    if (s instanceof MultiDiscrete)
      return {
        heads: Array.from(s.nvec),
        decode: (ix, at) => Int32Array.from({ length: s.nvec.length }, (_, i) => ix[at + i]),
        encode: (a, out) => {
          if (!s.contains(a)) throw new Error(`${w}: ${describe(a)} is not in ${s}`);
          out.push(...Array.from(a as ArrayLike<number>));
        },
      };
    if (s instanceof Dict) {
      const subs = Object.entries(s.spaces).map(([k, sub]) => [k, build(sub, `${w}.${k}`)] as const);
      return {
        heads: subs.flatMap(([, p]) => p.heads),
        decode: (ix, at) => {
          const obj: Record<string, unknown> = {};
          let off = at;
          for (const [k, p] of subs) {
            obj[k] = p.decode(ix, off);
            off += p.heads.length;
          }
          return obj;
        },
        encode: (a, out) => {
          for (const [k, p] of subs) p.encode((a as Record<string, unknown>)[k], out);
        },
      };
    }
    throw new Error(`${w}: ${s} is not a discrete action space (Discrete, MultiDiscrete, Dict of them); MADDPG here uses Gumbel-softmax heads`);
  };
  const root = build(space, where);
  return {
    heads: root.heads,
    width: root.heads.reduce((a, b) => a + b, 0),
    decode: (ix) => {
      if (ix.length !== root.heads.length) throw new Error(`${where}: ${ix.length} head indices for ${root.heads.length} heads`);
      return root.decode(ix, 0);
    },
    encode: (a) => {
      const out: number[] = [];
      root.encode(a, out);
      return Int32Array.from(out);
    },
  };
}
