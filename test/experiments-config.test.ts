/**
 * Run configs: defaults (one file, documented, printable), path-named errors (nested, array index,
 * unknown key, enum, bad override syntax, bad files), override application, the example configs,
 * and run-directory naming.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { DEFAULT_RUN_CONFIG, FIELD_DOCS } from '../experiments/config/defaults.js';
import { configToYaml, loadRunConfig, resolveRunConfig } from '../experiments/config/load.js';
import { parseKeyPath } from '../experiments/config/overrides.js';
import { validateRunConfig } from '../experiments/config/schema.js';
import { paramDigest, runDirName } from '../experiments/run-dir.js';
import { cli } from './cli-helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'topsched-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

/** Every leaf path of an object (arrays and the workload count as leaves). */
function leaves(v: unknown, path = ''): string[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || path === 'env.workload') return [path];
  return Object.entries(v).flatMap(([k, x]) => leaves(x, path ? `${path}.${k}` : k));
}

describe('defaults', () => {
  it('are valid, documented field by field, and what an empty config resolves to', () => {
    expect(validateRunConfig(DEFAULT_RUN_CONFIG, 'defaults')).toEqual(DEFAULT_RUN_CONFIG);
    const undocumented = leaves(DEFAULT_RUN_CONFIG).filter((p) => !FIELD_DOCS[p]);
    expect(undocumented).toEqual([]);
    // Every doc names a real field: a default or an optional field of the schema.
    for (const k of Object.keys(FIELD_DOCS)) {
      const isDefault = leaves(DEFAULT_RUN_CONFIG).some((p) => p === k || p.startsWith(`${k}.`));
      expect(isDefault || FIELD_DOCS[k].startsWith('Optional'), k).toBe(true);
    }
    expect(resolveRunConfig({})).toEqual(DEFAULT_RUN_CONFIG);
    expect(resolveRunConfig(null)).toEqual(DEFAULT_RUN_CONFIG);
  });

  it('--print-defaults prints them as YAML with a comment per field', async () => {
    const out = await cli('train', '--print-defaults');
    expect(YAML.parse(out)).toEqual(JSON.parse(JSON.stringify(DEFAULT_RUN_CONFIG)));
    expect(out).toContain(`# ${FIELD_DOCS['agent.lr']}\n  lr: 0.001`);
    expect(out).toContain('levels: [ 0, 1, 2, 4, 8 ]');
    expect(out).toMatch(/# {3}env\.mpsShare: /);
  });

  it('round-trips through config.yaml text', () => {
    const cfg = resolveRunConfig({ seed: 3, agent: { lr: 5e-4 } });
    expect(resolveRunConfig(YAML.parse(configToYaml(cfg)))).toEqual(cfg);
  });
});

describe('errors name the full path and quote the value', () => {
  const twoModels = {
    name: 'w',
    models: [
      { name: 'a', arrival: { kind: 'poisson', rate: 1 } },
      { name: 'b', arrival: { kind: 'poisson', rate: 'fast' } },
    ],
  };

  it('nested field with an array index, from a file', () => {
    const f = write('bad-rate.yaml', YAML.stringify({ env: { workload: twoModels } }));
    const msg = errorOf(() => loadRunConfig(f));
    expect(msg).toBe(`${f}: env.workload.models[1].arrival.rate: expected number, got "fast"`);
  });

  it('the same error through an override on a workload given by path', () => {
    write('w.yaml', YAML.stringify({ ...twoModels, models: [twoModels.models[0], { ...twoModels.models[1], arrival: { kind: 'poisson', rate: 5 } }] }));
    const f = write('by-path.yaml', 'env:\n  workload: w.yaml\n');
    expect(loadRunConfig(f).env.workload.models[1].arrival).toEqual({ kind: 'poisson', rate: 5 });
    expect(loadRunConfig(f, ['env.workload.models[1].arrival.rate=300']).env.workload.models[1].arrival).toEqual({ kind: 'poisson', rate: 300 });
    expect(errorOf(() => loadRunConfig(f, ['env.workload.models[1].arrival.rate=fast']))).toContain(
      'env.workload.models[1].arrival.rate: expected number, got "fast"',
    );
  });

  it('unknown keys, top level and nested, are errors naming the key', () => {
    expect(errorOf(() => resolveRunConfig({ agnet: {} }, [], 'c.yaml'))).toMatch(/^c\.yaml: agnet: unknown key 'agnet'/);
    expect(errorOf(() => resolveRunConfig({ agent: { lrr: 1 } }, [], 'c.yaml'))).toMatch(/^c\.yaml: agent\.lrr: unknown key 'lrr' \(known here: lr, /);
    expect(errorOf(() => resolveRunConfig({}, ['env.reward.wslo=0'], 'c.yaml'))).toContain("env.reward.wslo: unknown key 'wslo'");
  });

  it('enums, integers, ranges and several problems at once', () => {
    const msg = errorOf(() => resolveRunConfig({ eval: { executor: 'gpu' }, agent: { batchSize: 2.5, gamma: 2 }, env: { levels: [0, -1] } }, [], 'c.yaml'));
    expect(msg).toContain(`eval.executor: expected one of "sim" | "native", got "gpu"`);
    expect(msg).toContain('agent.batchSize: expected int, got 2.5');
    expect(msg).toContain('agent.gamma: Too big: expected number to be <=1, got 2');
    expect(msg).toContain('env.levels[1]: Too small: expected number to be >=0, got -1');
    expect(errorOf(() => resolveRunConfig({ eval: { baselines: ['fixed-frequency', 'oracle'] } }))).toContain('eval.baselines[1]: expected one of');
    expect(errorOf(() => resolveRunConfig({ name: 'a b' }))).toContain('name: letters, digits, . _ - only (it names a directory), got "a b"');
  });

  it('bad override syntax names the override', () => {
    expect(errorOf(() => resolveRunConfig({}, ['agent.lr']))).toBe("override 'agent.lr': expected key=value (e.g. agent.lr=3e-4)");
    expect(errorOf(() => resolveRunConfig({}, ['agent..lr=1']))).toMatch(/^override 'agent\.\.lr=1': bad key path 'agent\.\.lr'/);
    expect(errorOf(() => resolveRunConfig({}, ['=3']))).toMatch(/^override '=3': expected key=value/);
    expect(errorOf(() => resolveRunConfig({}, ['env.levels[9]=1']))).toBe("override 'env.levels[9]=1': env.levels has 5 elements: index 9 is past its end");
    expect(errorOf(() => resolveRunConfig({}, ['agent.lr.x=1']))).toBe("override 'agent.lr.x=1': agent.lr is 0.001, not a mapping: cannot set 'x'");
    expect(errorOf(() => resolveRunConfig({}, ['agent.hidden=[1,']))).toMatch(/^override 'agent.hidden=\[1,': value is not valid YAML/);
    expect(parseKeyPath('env.workload.models[1].arrival.rates[0]')).toEqual(['env', 'workload', 'models', 1, 'arrival', 'rates', 0]);
  });

  it('bad files name the file', () => {
    const missing = join(dir, 'nope.yaml');
    expect(errorOf(() => loadRunConfig(missing))).toBe(`${missing}: cannot read config: ENOENT`);
    const broken = write('broken.yaml', 'agent: [1, 2\n');
    expect(errorOf(() => loadRunConfig(broken))).toMatch(new RegExp(`^${broken.replace(/[.]/g, '\\.')}: invalid YAML: `));
    const list = write('list.yaml', '- 1\n- 2\n');
    expect(errorOf(() => loadRunConfig(list))).toBe(`${list}: expected a mapping of config sections, got [1,2]`);
    const badWorkload = write('bad-w.yaml', 'env:\n  workload: missing-workload.yaml\n');
    expect(errorOf(() => loadRunConfig(badWorkload))).toBe(`${join(dir, 'missing-workload.yaml')}: cannot read workload: ENOENT`);
  });
});

describe('overrides', () => {
  it('parse values as YAML scalars and apply to dotted paths and indices', () => {
    const cfg = resolveRunConfig({}, [
      'agent.lr=3e-4',
      'env.levels[2]=3',
      'env.levels[5]=16',
      'eval.baselines=[random]',
      'name=my-run',
      'env.skipIdle=true',
      'env.device=a100',
      'agent.hidden=[16, 8]',
    ]);
    expect(cfg.agent.lr).toBe(3e-4);
    expect(cfg.env.levels).toEqual([0, 1, 3, 4, 8, 16]);
    expect(cfg.eval.baselines).toEqual(['random']);
    expect(cfg.name).toBe('my-run');
    expect(cfg.env.skipIdle).toBe(true);
    expect(cfg.env.device).toBe('a100');
    expect(cfg.agent.hidden).toEqual([16, 8]);
    // Untouched fields keep their defaults; the defaults object itself is never mutated.
    expect(cfg.agent.gamma).toBe(DEFAULT_RUN_CONFIG.agent.gamma);
    expect(DEFAULT_RUN_CONFIG.env.levels).toEqual([0, 1, 2, 4, 8]);
    // A later override wins; `1e-3` as a string value stays a number, `'fast'` a string.
    expect(resolveRunConfig({}, ['seed=1', 'seed=7']).seed).toBe(7);
  });

  it('file values merge over defaults; overrides over the file; the workload replaces whole', () => {
    const cfg = resolveRunConfig({ agent: { lr: 0.01 }, env: { workload: { models: [{ name: 'resnet50', arrival: { kind: 'poisson', rate: 50 } }] } } }, [
      'agent.tau=0.5',
    ]);
    expect(cfg.agent).toMatchObject({ lr: 0.01, tau: 0.5, gamma: 0.95 });
    expect(cfg.env.workload.models).toEqual([{ name: 'resnet50', sloMs: 100, maxQueue: 10_000, arrival: { kind: 'poisson', rate: 50 } }]);
  });
});

describe('example configs and run dir names', () => {
  it('load, and name stable run dirs from their parameters', () => {
    for (const name of ['two-models', 'four-models']) {
      const file = join(root, 'experiments', 'configs', `${name}.yaml`);
      const cfg = loadRunConfig(file);
      expect(cfg.name).toBe(name);
      expect(runDirName(cfg)).toMatch(new RegExp(`^${name}_[0-9a-f]{8}_seed0$`));
      expect(runDirName(loadRunConfig(file))).toBe(runDirName(cfg));
    }
    const base = loadRunConfig(join(root, 'experiments', 'configs', 'two-models.yaml'));
    expect(base.env.workload.models.map((m) => m.name)).toEqual(['squeezenet1_1', 'resnet50']);
    const seed1 = loadRunConfig(join(root, 'experiments', 'configs', 'two-models.yaml'), ['seed=1']);
    expect(paramDigest(seed1)).toBe(paramDigest(base));
    expect(runDirName(seed1)).toBe(runDirName(base).replace(/seed0$/, 'seed1'));
    expect(paramDigest(loadRunConfig(join(root, 'experiments', 'configs', 'two-models.yaml'), ['agent.lr=3e-4']))).not.toBe(paramDigest(base));
    // Key order does not change the digest.
    const reordered = Object.fromEntries(Object.entries(base).reverse()) as typeof base;
    expect(paramDigest(reordered)).toBe(paramDigest(base));
  });
});

describe('bounds and prototype safety', () => {
  it('every numeric field has a bound: an absurd value is an error naming the field, before anything is allocated', () => {
    const cases: [string, RegExp][] = [
      ['env.streams=1000000000', /env\.streams: .*(<=|at most|too big).*1000000000/i],
      ['agent.bufferSize=1e12', /agent\.bufferSize: .*1000000000000/],
      ['agent.hidden=[100000]', /agent\.hidden\[0\]/],
      ['env.levels=[0, 5000]', /env\.levels\[1\]/],
      ['seed=99999999999', /seed:/],
      ['env.epochMs=1e300', /env\.epochMs/],
      ['train.evalEpisodes=1e9', /train\.evalEpisodes/],
      ['env.workload.models[0].arrival.rate=1e12', /env\.workload\.models\[0\]\.arrival\.rate/],
    ];
    for (const [o, re] of cases) expect(() => resolveRunConfig({}, [o]), o).toThrow(re);
  });

  it('refuses __proto__, constructor and prototype in override paths, override values and config files; nothing is polluted', () => {
    for (const o of ['__proto__.polluted=1', 'agent.__proto__.polluted=1', 'constructor.prototype.polluted=1', 'env.prototype=1']) {
      expect(() => resolveRunConfig({}, [o]), o).toThrow(/not allowed/);
    }
    expect(() => resolveRunConfig({}, ['agent={"__proto__": {"polluted": 1}}'])).toThrow(/agent\.__proto__: the key '__proto__' is not allowed/);
    const doc = JSON.parse('{"agent": {"__proto__": {"polluted": 1}}}');
    expect(() => resolveRunConfig(doc, [], 'cfg.yaml')).toThrow(/cfg\.yaml: agent\.__proto__/);
    const f = join(dir, 'proto.yaml');
    writeFileSync(f, 'agent:\n  __proto__:\n    polluted: 1\n');
    expect(() => loadRunConfig(f)).toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
