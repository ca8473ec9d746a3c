/**
 * Loading a run config: read the YAML (errors name the file), inline a workload given by path
 * (relative to the config file; errors name the workload file), deep-merge over the defaults,
 * apply `key=value` overrides, validate (errors name the file and every bad field's full path).
 * The result is fully resolved and self-contained: relative model / trace paths of the workload are
 * made absolute, so the config.yaml a run dir stores reproduces the run from anywhere.
 */

import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { readTextBounded } from '../../graphs/limits.js';
import { DEFAULT_RUN_CONFIG, FIELD_DOCS } from './defaults.js';
import { applyOverrides, checkNoForbiddenKeys } from './overrides.js';
import { ConfigError, type RunConfig, validateRunConfig } from './schema.js';

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads a YAML file; errors (unreadable, too large, invalid, a forbidden key) name the file. */
export function readYaml(file: string, what: string): unknown {
  let text: string;
  try {
    text = readTextBounded(file, what);
  } catch (e) {
    throw new ConfigError(file, [(e as Error).message.replace(`${file}: `, '')]);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new ConfigError(file, [`invalid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  checkNoForbiddenKeys(doc, file);
  return doc;
}

/** Objects merge key by key; arrays, scalars and the workload replace. */
export function deepMerge(base: unknown, over: unknown, path = ''): unknown {
  if (!isMap(base) || !isMap(over) || path === 'env.workload') return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v, path ? `${path}.${k}` : k) : structuredClone(v);
  return out;
}

/** Makes a workload's relative file paths (model sources, traces) absolute against `baseDir`. */
function absolutizeWorkload(w: RunConfig['env']['workload'], baseDir: string): void {
  for (const m of w.models) {
    if (m.source && /\.(onnx|json)$/i.test(m.source) && !isAbsolute(m.source)) m.source = resolve(baseDir, m.source);
    if ((m.arrival.kind === 'trace' || m.arrival.kind === 'replay') && !isAbsolute(m.arrival.path)) m.arrival.path = resolve(baseDir, m.arrival.path);
  }
}

/** Resolves a config document (already parsed) found at `where` with paths relative to `baseDir`. */
export function resolveRunConfig(doc: unknown, overrides: readonly string[] = [], where = 'config', baseDir = process.cwd()): RunConfig {
  if (doc === null || doc === undefined) doc = {};
  checkNoForbiddenKeys(doc, where);
  if (!isMap(doc)) throw new ConfigError(where, [`expected a mapping of config sections, got ${JSON.stringify(doc)}`]);
  let workloadDir = baseDir;
  const env = doc.env;
  if (isMap(env) && typeof env.workload === 'string') {
    const file = resolve(baseDir, env.workload);
    const w = readYaml(file, 'workload');
    doc = { ...doc, env: { ...env, workload: w } };
    workloadDir = dirname(file);
  }
  const merged = deepMerge(DEFAULT_RUN_CONFIG, doc) as Record<string, unknown>;
  applyOverrides(merged, overrides);
  const cfg = validateRunConfig(merged, overrides.length ? `${where} (with overrides ${overrides.join(' ')})` : where);
  absolutizeWorkload(cfg.env.workload, workloadDir);
  return cfg;
}

/** Loads `file` with overrides. */
export function loadRunConfig(file: string, overrides: readonly string[] = []): RunConfig {
  return resolveRunConfig(readYaml(file, 'config'), overrides, file, dirname(resolve(file)));
}

/** The config as YAML, each field preceded by its doc line when `docs` (for --print-defaults). */
export function configToYaml(cfg: RunConfig, docs = false): string {
  const d = new YAML.Document(cfg);
  // Lists of scalars on one line ([0, 1, 2, 4, 8]): easier to read and to diff.
  YAML.visit(d, {
    Seq(_, node) {
      if (node.items.every((i) => YAML.isScalar(i))) node.flow = true;
    },
  });
  if (docs) {
    const visit = (node: unknown, path: string) => {
      if (!YAML.isMap(node)) return;
      for (const pair of node.items) {
        const key = String((pair.key as YAML.Scalar).value);
        const p = path ? `${path}.${key}` : key;
        const doc = FIELD_DOCS[p];
        if (doc && YAML.isNode(pair.key)) pair.key.commentBefore = ` ${doc}`;
        if (p !== 'env.workload') visit(pair.value, p);
      }
    };
    visit(d.contents, '');
    const optional = Object.keys(FIELD_DOCS).filter((k) => FIELD_DOCS[k].startsWith('Optional') && valueAtDotted(cfg, k) === undefined);
    return `${d.toString({ lineWidth: 0 })}# Optional fields without a default (unset: the env's own default):\n${optional.map((k) => `#   ${k}: ${FIELD_DOCS[k].replace(/^Optional(, )?:? ?/, '')}`).join('\n')}\n`;
  }
  return d.toString({ lineWidth: 0 });
}

function valueAtDotted(cfg: unknown, dotted: string): unknown {
  let v = cfg;
  for (const k of dotted.split('.')) v = isMap(v) ? v[k] : undefined;
  return v;
}
