/**
 * `key=value` overrides after the config path: `agent.lr=3e-4 env.workload.models[1].arrival.rate=300`.
 * Keys are dotted paths with array indices; values are parsed as YAML (so `3e-4` is a number, `true`
 * a boolean, `[1, 2]` a list, `fast` a string). They apply to the merged document before validation,
 * so a bad value is reported by the schema with its full path like any other.
 */
import YAML from 'yaml';
import { ConfigError } from './schema.js';

export type PathStep = string | number;

/**
 * Keys that would reach an object's prototype (`__proto__.polluted=1` polluting every object of
 * the process). Refused in key paths and anywhere inside parsed values and config documents.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Throws naming the path of the first forbidden key inside a parsed document. */
export function checkNoForbiddenKeys(doc: unknown, where: string, path = ''): void {
  const stack: { v: unknown; path: string }[] = [{ v: doc, path }];
  while (stack.length) {
    const { v, path: p } = stack.pop() as { v: unknown; path: string };
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        stack.push({ v: x, path: `${p}[${i}]` });
      });
      continue;
    }
    for (const k of Object.getOwnPropertyNames(v)) {
      const here = p ? `${p}.${k}` : k;
      if (FORBIDDEN_KEYS.has(k)) throw new ConfigError(where, [`${here}: the key '${k}' is not allowed`]);
      stack.push({ v: (v as Record<string, unknown>)[k], path: here });
    }
  }
}

const KEY = /^[A-Za-z_][\w-]*(\[\d+\])*(\.[A-Za-z_][\w-]*(\[\d+\])*)*$/;

/** `a.b[1].c` → ['a', 'b', 1, 'c']; throws naming the override when malformed. */
export function parseKeyPath(key: string, where = `override '${key}'`): PathStep[] {
  if (!KEY.test(key)) throw new ConfigError(where, [`bad key path '${key}' (expected dotted names with [index], e.g. env.workload.models[1].arrival.rate)`]);
  const steps: PathStep[] = [];
  for (const part of key.split('.')) {
    const m = /^([^[]+)((\[\d+\])*)$/.exec(part) as RegExpExecArray;
    if (FORBIDDEN_KEYS.has(m[1])) throw new ConfigError(where, [`the key '${m[1]}' is not allowed in a key path`]);
    steps.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  return steps;
}

export interface Override {
  text: string;
  path: PathStep[];
  value: unknown;
}

export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const where = `override '${text}'`;
  if (eq <= 0) throw new ConfigError(where, ['expected key=value (e.g. agent.lr=3e-4)']);
  const path = parseKeyPath(text.slice(0, eq), where);
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = raw === '' ? '' : YAML.parse(raw, { logLevel: 'error' });
  } catch (e) {
    throw new ConfigError(where, [`value is not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  checkNoForbiddenKeys(value, where, text.slice(0, eq));
  return { text, path, value };
}

const label = (path: PathStep[]) => path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(root)';

/** Sets the override's value in `doc` (mutated), creating missing objects; indices may append. */
export function applyOverride(doc: Record<string, unknown>, o: Override): void {
  const where = `override '${o.text}'`;
  let node: unknown = doc;
  for (let i = 0; i < o.path.length; i++) {
    const step = o.path[i];
    const last = i === o.path.length - 1;
    const here = label(o.path.slice(0, i));
    if (typeof step === 'number') {
      if (!Array.isArray(node)) throw new ConfigError(where, [`${here} is ${JSON.stringify(node)}, not a list: cannot index [${step}]`]);
      if (step > node.length) throw new ConfigError(where, [`${here} has ${node.length} elements: index ${step} is past its end`]);
    } else if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      throw new ConfigError(where, [`${here} is ${JSON.stringify(node)}, not a mapping: cannot set '${step}'`]);
    }
    const container = node as Record<PathStep, unknown>;
    if (last) {
      container[step] = o.value;
      return;
    }
    // Only own properties are followed; a missing object is made without a prototype.
    if (!Object.hasOwn(container, step) || container[step] === undefined || container[step] === null)
      container[step] = typeof o.path[i + 1] === 'number' ? [] : Object.create(null);
    node = container[step];
  }
}

export function applyOverrides(doc: Record<string, unknown>, texts: readonly string[]): Override[] {
  const parsed = texts.map(parseOverride);
  for (const o of parsed) applyOverride(doc, o);
  return parsed;
}
