/**
 * Observation and action spaces, after Gymnasium's `gymnasium.spaces`: Box, Discrete,
 * MultiDiscrete, Dict and Graph. Every space can `sample()` a member (from its own seeded RNG, or
 * from an RNG the caller passes) and test membership with `contains(x)`.
 *
 * Values:
 *  - Box           → Float32Array of `size` elements (row-major over `shape`);
 *  - Discrete      → an integer in [start, start + n);
 *  - MultiDiscrete → Int32Array (or number[]) with 0 ≤ x[i] < nvec[i];
 *  - Dict          → a plain object with one value per key;
 *  - Graph         → { nodes: Float32Array|Int32Array, edges: ... | null, edgeLinks: Int32Array }
 *                    (Gymnasium's GraphInstance, flattened row-major).
 *
 * Sampling follows Gymnasium: a bounded Box dimension is uniform, a half-bounded one is an
 * exponential from its bound, an unbounded one a standard normal.
 */
import seedrandom from 'seedrandom';

/** A source of uniform numbers in [0, 1): `seedrandom`'s PRNGs satisfy it. */
export type Rng = () => number;

export function makeRng(seed: number | string): Rng {
  return seedrandom(String(seed));
}

/** An error about a space or a value that does not belong to it; the message quotes the value. */
export class SpaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpaceError';
  }
}

/** A short, bounded rendering of a bad value for error messages. */
export function quote(x: unknown): string {
  let s: string;
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) s = `${x.constructor.name}[${Array.from(x as unknown as ArrayLike<number>).join(', ')}]`;
  else if (typeof x === 'bigint') s = `${x}n`;
  else if (typeof x === 'number') s = String(x);
  else {
    try {
      s = JSON.stringify(x) ?? String(x);
    } catch {
      s = String(x);
    }
  }
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export abstract class Space<T> {
  private rng: Rng = makeRng(0);

  /** Reseeds the space's own RNG (used by `sample()` without an argument). */
  seed(seed: number | string): this {
    this.rng = makeRng(seed);
    return this;
  }

  /** A random member. `rng` defaults to the space's own seeded RNG. */
  sample(rng?: Rng): T {
    return this.draw(rng ?? this.rng);
  }

  protected abstract draw(rng: Rng): T;
  abstract contains(x: unknown): x is T;
  /** Why `x` is not a member (null when it is): error messages use it to name the bad part. */
  abstract why(x: unknown): string | null;
  abstract toString(): string;
}

function standardNormal(rng: Rng): number {
  // Box–Muller; 1 - u keeps log away from 0.
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function isArrayLikeNumbers(x: unknown): x is ArrayLike<number> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array));
}

/** A box in R^n: per-element bounds (±Infinity for unbounded), float32 values. */
export class Box extends Space<Float32Array> {
  readonly low: Float32Array;
  readonly high: Float32Array;
  readonly shape: readonly number[];
  readonly size: number;

  constructor(low: number | ArrayLike<number>, high: number | ArrayLike<number>, shape?: readonly number[]) {
    super();
    const size = shape ? shape.reduce((a, b) => a * b, 1) : typeof low === 'number' ? (typeof high === 'number' ? 1 : high.length) : low.length;
    if (!Number.isInteger(size) || size < 0) throw new SpaceError(`Box shape must hold non-negative integers, got ${quote(shape)}`);
    this.shape = shape ? [...shape] : [size];
    this.size = size;
    const fill = (v: number | ArrayLike<number>, which: string): Float32Array => {
      if (typeof v === 'number') return new Float32Array(size).fill(v);
      if (v.length !== size) throw new SpaceError(`Box ${which} has ${v.length} elements, shape [${this.shape}] needs ${size}`);
      return Float32Array.from(v);
    };
    this.low = fill(low, 'low');
    this.high = fill(high, 'high');
    for (let i = 0; i < size; i++) {
      if (Number.isNaN(this.low[i]) || Number.isNaN(this.high[i]) || this.low[i] > this.high[i]) {
        throw new SpaceError(`Box bounds at index ${i} are invalid: low ${this.low[i]}, high ${this.high[i]}`);
      }
    }
  }

  protected draw(rng: Rng): Float32Array {
    const out = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const lo = this.low[i];
      const hi = this.high[i];
      const loB = Number.isFinite(lo);
      const hiB = Number.isFinite(hi);
      let v: number;
      if (loB && hiB) v = lo + (hi - lo) * rng();
      else if (loB) v = lo - Math.log(1 - rng());
      else if (hiB) v = hi + Math.log(1 - rng());
      else v = standardNormal(rng);
      // float32 rounding may step past a bound; clamp back inside.
      out[i] = Math.min(hi, Math.max(lo, Math.fround(v)));
    }
    return out;
  }

  why(x: unknown): string | null {
    if (!isArrayLikeNumbers(x)) return `expected a Float32Array of ${this.size} elements, got ${quote(x)}`;
    if (x.length !== this.size) return `expected ${this.size} elements (shape [${this.shape}]), got ${x.length}`;
    for (let i = 0; i < this.size; i++) {
      const v = x[i];
      if (typeof v !== 'number' || Number.isNaN(v)) return `element ${i} is ${quote(v)}, not a number`;
      if (v < this.low[i] || v > this.high[i]) return `element ${i} = ${v} is outside [${this.low[i]}, ${this.high[i]}]`;
    }
    return null;
  }

  contains(x: unknown): x is Float32Array {
    return this.why(x) === null;
  }

  toString(): string {
    return `Box(shape=[${this.shape}])`;
  }
}

/** {start, ..., start + n - 1}. */
export class Discrete extends Space<number> {
  constructor(
    readonly n: number,
    readonly start = 0,
  ) {
    super();
    if (!Number.isInteger(n) || n < 1) throw new SpaceError(`Discrete needs a positive integer n, got ${quote(n)}`);
    if (!Number.isInteger(start)) throw new SpaceError(`Discrete start must be an integer, got ${quote(start)}`);
  }

  protected draw(rng: Rng): number {
    return this.start + Math.floor(rng() * this.n);
  }

  why(x: unknown): string | null {
    if (typeof x !== 'number' || !Number.isInteger(x)) return `expected an integer, got ${quote(x)}`;
    if (x < this.start || x >= this.start + this.n) return `${x} is out of range ${this.start}..${this.start + this.n - 1}`;
    return null;
  }

  contains(x: unknown): x is number {
    return this.why(x) === null;
  }

  toString(): string {
    return this.start ? `Discrete(${this.n}, start=${this.start})` : `Discrete(${this.n})`;
  }
}

/** A vector of independent discrete choices: x[i] ∈ {0, ..., nvec[i] - 1}. */
export class MultiDiscrete extends Space<Int32Array> {
  readonly nvec: Int32Array;
  /** Optional names of the components, used in error messages (e.g. `resnet50.level`). */
  readonly labels: readonly string[] | undefined;

  constructor(nvec: ArrayLike<number>, labels?: readonly string[]) {
    super();
    this.nvec = Int32Array.from(nvec);
    for (let i = 0; i < nvec.length; i++) {
      if (!Number.isInteger(nvec[i]) || nvec[i] < 1) throw new SpaceError(`MultiDiscrete nvec[${i}] must be a positive integer, got ${quote(nvec[i])}`);
    }
    if (labels && labels.length !== nvec.length) throw new SpaceError(`MultiDiscrete has ${nvec.length} components but ${labels.length} labels`);
    this.labels = labels ? [...labels] : undefined;
  }

  get size(): number {
    return this.nvec.length;
  }

  protected draw(rng: Rng): Int32Array {
    const out = new Int32Array(this.nvec.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng() * this.nvec[i]);
    return out;
  }

  private label(i: number): string {
    return this.labels ? `[${i}] (${this.labels[i]})` : `[${i}]`;
  }

  why(x: unknown): string | null {
    if (!isArrayLikeNumbers(x)) return `expected an Int32Array of ${this.nvec.length} integers, got ${quote(x)}`;
    if (x.length !== this.nvec.length) return `expected ${this.nvec.length} components, got ${x.length}: ${quote(x)}`;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (typeof v !== 'number' || !Number.isInteger(v)) return `component ${this.label(i)} = ${quote(v)} is not an integer`;
      if (v < 0 || v >= this.nvec[i]) return `component ${this.label(i)} = ${v} is out of range 0..${this.nvec[i] - 1}`;
    }
    return null;
  }

  contains(x: unknown): x is Int32Array {
    return this.why(x) === null;
  }

  toString(): string {
    return `MultiDiscrete([${Array.from(this.nvec).join(', ')}])`;
  }
}

export type DictValue = Record<string, unknown>;

/** A fixed set of named sub-spaces. Key order is the insertion order (Gymnasium sorts; we keep it). */
export class Dict extends Space<DictValue> {
  readonly spaces: Readonly<Record<string, Space<unknown>>>;

  constructor(spaces: Record<string, Space<unknown>>) {
    super();
    if (!Object.keys(spaces).length) throw new SpaceError('Dict needs at least one sub-space');
    this.spaces = { ...spaces };
  }

  override seed(seed: number | string): this {
    super.seed(seed);
    let k = 0;
    for (const s of Object.values(this.spaces)) s.seed(`${seed}:${k++}`);
    return this;
  }

  protected draw(rng: Rng): DictValue {
    const out: DictValue = {};
    for (const [k, s] of Object.entries(this.spaces)) out[k] = s.sample(rng);
    return out;
  }

  why(x: unknown): string | null {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return `expected an object with keys ${Object.keys(this.spaces).join(', ')}, got ${quote(x)}`;
    const obj = x as Record<string, unknown>;
    for (const k of Object.keys(obj)) if (!(k in this.spaces)) return `unexpected key '${k}'`;
    for (const [k, s] of Object.entries(this.spaces)) {
      if (!(k in obj)) return `missing key '${k}'`;
      const w = s.why(obj[k]);
      if (w) return `${k}: ${w}`;
    }
    return null;
  }

  contains(x: unknown): x is DictValue {
    return this.why(x) === null;
  }

  toString(): string {
    return `Dict(${Object.entries(this.spaces)
      .map(([k, s]) => `${k}: ${s}`)
      .join(', ')})`;
  }
}

/** Gymnasium's GraphInstance, flattened: row i of `nodes` is node i's features. */
export interface GraphInstance {
  nodes: Float32Array | Int32Array;
  edges: Float32Array | Int32Array | null;
  /** 2 × numEdges entries: [src0, dst0, src1, dst1, ...]. */
  edgeLinks: Int32Array;
}

type FeatureSpace = Box | Discrete;

/**
 * Graphs of any size whose node features lie in `nodeSpace` and edge features (if any) in
 * `edgeSpace`. `sample` draws `numNodes` nodes (default 10) and `numEdges` random edges.
 */
export class GraphSpace extends Space<GraphInstance> {
  constructor(
    readonly nodeSpace: FeatureSpace,
    readonly edgeSpace: FeatureSpace | null = null,
    readonly sampleSize: { numNodes: number; numEdges: number } = { numNodes: 10, numEdges: 10 },
  ) {
    super();
  }

  private width(s: FeatureSpace): number {
    return s instanceof Box ? s.size : 1;
  }

  private fill(s: FeatureSpace, count: number, rng: Rng): Float32Array | Int32Array {
    if (s instanceof Discrete) {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = s.sample(rng);
      return out;
    }
    const out = new Float32Array(count * s.size);
    for (let i = 0; i < count; i++) out.set(s.sample(rng), i * s.size);
    return out;
  }

  protected draw(rng: Rng): GraphInstance {
    const { numNodes, numEdges } = this.sampleSize;
    const edgesN = numNodes > 0 ? numEdges : 0;
    const edgeLinks = new Int32Array(2 * edgesN);
    for (let i = 0; i < edgeLinks.length; i++) edgeLinks[i] = Math.floor(rng() * numNodes);
    return { nodes: this.fill(this.nodeSpace, numNodes, rng), edges: this.edgeSpace ? this.fill(this.edgeSpace, edgesN, rng) : null, edgeLinks };
  }

  private whyFeatures(s: FeatureSpace, data: unknown, count: number, what: string): string | null {
    if (!isArrayLikeNumbers(data)) return `${what} must be a typed array, got ${quote(data)}`;
    const w = this.width(s);
    if (data.length !== count * w) return `${what} has ${data.length} values, expected ${count} × ${w}`;
    for (let i = 0; i < count; i++) {
      const v = s instanceof Discrete ? data[i] : Array.prototype.slice.call(data, i * w, (i + 1) * w);
      const why = s.why(v);
      if (why) return `${what} row ${i}: ${why}`;
    }
    return null;
  }

  why(x: unknown): string | null {
    if (!x || typeof x !== 'object') return `expected a graph instance, got ${quote(x)}`;
    const g = x as GraphInstance;
    if (!(g.edgeLinks instanceof Int32Array) || g.edgeLinks.length % 2) return `edgeLinks must be an Int32Array of pairs, got ${quote(g.edgeLinks)}`;
    const nNodes = isArrayLikeNumbers(g.nodes) ? g.nodes.length / this.width(this.nodeSpace) : 0;
    if (!Number.isInteger(nNodes)) return `nodes length ${(g.nodes as ArrayLike<number>).length} is not a multiple of the node feature width`;
    const wn = this.whyFeatures(this.nodeSpace, g.nodes, nNodes, 'nodes');
    if (wn) return wn;
    const nEdges = g.edgeLinks.length / 2;
    for (let i = 0; i < g.edgeLinks.length; i++) {
      if (g.edgeLinks[i] < 0 || g.edgeLinks[i] >= nNodes) return `edgeLinks[${i}] = ${g.edgeLinks[i]} is not a node index (0..${nNodes - 1})`;
    }
    if (this.edgeSpace) return this.whyFeatures(this.edgeSpace, g.edges, nEdges, 'edges');
    if (g.edges !== null) return `this graph space has no edge features, got ${quote(g.edges)}`;
    return null;
  }

  contains(x: unknown): x is GraphInstance {
    return this.why(x) === null;
  }

  toString(): string {
    return `Graph(${this.nodeSpace}, ${this.edgeSpace ?? 'None'})`;
  }
}

/** Number of float32 values a member of `space` flattens to (Box: size; Discrete: one-hot n). */
export function flatDim(space: Space<unknown>): number {
  if (space instanceof Box) return space.size;
  if (space instanceof Discrete) return space.n;
  if (space instanceof MultiDiscrete) return Array.from(space.nvec).reduce((a, b) => a + b, 0);
  if (space instanceof Dict) return Object.values(space.spaces).reduce((a, s) => a + flatDim(s), 0);
  throw new SpaceError(`${space} has no fixed flat dimension`);
}
