/**
 * A vector env's worker thread (vector.ts, mode 'async'): builds its share of the sub-envs, then
 * answers each command on its port and raises its slot of the shared signal so the blocked caller
 * wakes. Errors are posted back as messages (the caller throws them), never left uncaught.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import type { AnyParallelEnv } from './registry.js';
import { buildSubEnv, type EnvSource } from './vector.js';
import { type SubEnvResult, VecCore } from './vector-core.js';

const data = workerData as {
  source: EnvSource;
  options: Record<string, unknown>;
  owns: number[];
  autoreset: 'next-step' | 'same-step';
  port: MessagePort;
  signal: Int32Array;
  slot: number;
};

function answer(msg: { error?: string; results?: SubEnvResult[] }): void {
  data.port.postMessage(msg);
  Atomics.store(data.signal, data.slot, 1);
  Atomics.notify(data.signal, data.slot);
}

let core: VecCore | null = null;
let failed: string | null = null;
const built = (async () => {
  try {
    const envs: AnyParallelEnv[] = [];
    for (const i of data.owns) envs.push(await buildSubEnv(data.source, data.options, i));
    core = new VecCore(envs, data.autoreset);
  } catch (e) {
    failed = `could not build sub-envs ${data.owns.join(', ')}: ${(e as Error).message}`;
  }
})();

data.port.on(
  'message',
  async (msg: { cmd: string; seeds?: (number | undefined)[]; options?: Record<string, unknown>; actions?: Record<string, unknown>[] }) => {
    await built;
    try {
      if (failed || !core) return answer({ error: failed ?? 'sub-envs not built' });
      if (msg.cmd === 'ready') return answer({ results: [] });
      if (msg.cmd === 'reset') return answer({ results: core.reset(msg.seeds ?? [], msg.options) });
      if (msg.cmd === 'step') return answer({ results: core.step(msg.actions ?? []) });
      return answer({ error: `unknown command ${JSON.stringify(msg.cmd)}` });
    } catch (e) {
      answer({ error: (e as Error).message });
    }
  },
);
