#!/usr/bin/env node
// npm's install hook for the native addon, in the spirit of node-gyp-build: build only when no
// usable binary for this platform, architecture and source tree exists. A stamp beside the binary
// records a digest of the native sources and build files, the platform, the architecture, and
// whether nvcc was found; when it matches and the binary loads, nothing is built and `npm install`
// (or `npx topsched`) returns in seconds. Otherwise node-gyp configures and builds incrementally,
// without the `rebuild` clean step, so an existing binary stays loadable until the new one is
// linked. `--force` (or TOPSCHED_FORCE_BUILD=1) always builds.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const binary = join(here, 'build', 'Release', 'topsched_native.node');
const stampFile = join(here, 'build', 'Release', '.topsched-build-stamp');

function files(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (/\.(cpp|hpp|h|cu|cuh|c)$/.test(e.name)) out.push(p);
  }
  return out;
}

function nvccFound() {
  try {
    execFileSync('sh', ['-c', 'command -v nvcc || ls /usr/local/cuda/bin/nvcc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function stamp() {
  const h = createHash('sha256');
  const inputs = [...files(join(here, 'src')), ...['binding.gyp', 'cuda.gypi', 'check_deps.sh'].map((f) => join(here, f)).filter(existsSync)];
  if (existsSync(join(here, 'cuda'))) inputs.push(...files(join(here, 'cuda')));
  for (const f of inputs.sort()) {
    h.update(relative(here, f));
    h.update(readFileSync(f));
  }
  h.update(`${process.platform}-${process.arch}-nvcc:${nvccFound()}`);
  return h.digest('hex');
}

function loads() {
  // In a child process: a broken binary must not take this script down with it.
  const r = spawnSync(process.execPath, ['-e', `const b = require(${JSON.stringify(binary)}); if (b.abi !== 1) process.exit(3);`], { stdio: 'ignore' });
  return r.status === 0;
}

const force = process.argv.includes('--force') || process.env.TOPSCHED_FORCE_BUILD === '1';
const want = stamp();
if (!force && existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === want && loads()) {
  console.log(`topsched: native addon is up to date (${relative(process.cwd(), binary) || binary}); not rebuilding`);
  process.exit(0);
}
/** npm's node-gyp (npm sets npm_config_node_gyp in install scripts), a local one, or PATH's. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  const js = candidates.find((c) => c && existsSync(c));
  return js ? [process.execPath, [js]] : ['node-gyp', []];
}

const configured = existsSync(join(here, 'build', 'Makefile')) && existsSync(join(here, 'build', 'config.gypi'));
const steps = configured && !force ? [['build']] : [['configure'], ['build']];
for (const args of steps) {
  const [cmd, pre] = nodeGyp();
  const r = spawnSync(cmd, [...pre, ...args, '-C', here], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`topsched: node-gyp ${args.join(' ')} failed (exit ${r.status ?? r.signal}); see native/README.md for the build requirements`);
    process.exit(r.status || 1);
  }
}
if (!existsSync(binary) || !statSync(binary).isFile()) {
  console.error(`topsched: the build finished without ${binary}`);
  process.exit(1);
}
const tmp = `${stampFile}.tmp-${process.pid}`;
writeFileSync(tmp, `${want}\n`);
renameSync(tmp, stampFile);
