/**
 * The C++ core is compiled by four build descriptions: binding.gyp (the addon and runner, what CI
 * builds), native/Makefile (the runner on machines without Node), native/cuda/emu/run.sh (the CUDA
 * emulation tests) and native/cuda/build-runner.sh (the GPU machine). A source file added to the
 * core but left out of one of them only fails where that one runs: build-runner.sh had lost
 * epilogue, layout and own_rnn, and the GPU machine's build would have failed to link.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const native = join(import.meta.dirname, '..', 'native');
const read = (p: string) => readFileSync(join(native, p), 'utf8');

/** Every core and CPU-backend source (addon.cpp and runner.cpp are entry points, not core). */
function coreSources(): string[] {
  const list = (dir: string) =>
    readdirSync(join(native, 'src', dir))
      .filter((f) => f.endsWith('.cpp'))
      .map((f) => (dir ? `${dir}/` : '') + f.slice(0, -4));
  return [...list(''), ...list('cpu')].filter((f) => f !== 'addon' && f !== 'runner').sort();
}

const words = (s: string) => s.split(/[\s\\]+/).filter(Boolean);

describe('native build descriptions', () => {
  it('all four compile the same core and CPU-backend sources', () => {
    const want = coreSources();
    const gyp = [...read('binding.gyp').matchAll(/"src\/([\w/]+)\.cpp"/g)].map((m) => m[1]).filter((f) => f !== 'addon' && f !== 'runner');
    const make = words(/^CORE := ([\s\S]*?)\n(?!\s)/m.exec(read('Makefile'))?.[1] ?? '');
    const emu = words(/for f in ([\s\S]*?); do/.exec(read('cuda/emu/run.sh'))?.[1] ?? '').filter((f) => !f.startsWith('cuda/'));
    const runner = read('cuda/build-runner.sh');
    const gpu = [...words(/^CORE="([^"]*)"/m.exec(runner)?.[1] ?? ''), ...words(/^ {2}CPU="(cpu\/[^"]*)"/m.exec(runner)?.[1] ?? '')];
    for (const [name, got] of Object.entries({ 'binding.gyp': gyp, Makefile: make, 'cuda/emu/run.sh': emu, 'cuda/build-runner.sh': gpu }))
      expect([...got].sort(), name).toEqual(want);
  });
});
