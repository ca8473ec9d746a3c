/**
 * A trained learner's actors as plain data (layer sizes, activation, flat parameters): what a
 * training worker thread posts back, and what a greedy policy needs to act with no trainer and no
 * tfjs. MADDPG's and MAPPO's greedy policies are the same function of their actors (argmax of each
 * categorical head's logits), so one export serves both.
 */
import type { AgentID } from '../env/core.js';
import type { Policy } from '../env/policy.js';
import { sampleCategorical } from './categorical.js';
import type { MaddpgTrainer } from './maddpg.js';
import type { MappoTrainer } from './mappo.js';
import { type Activation, mlpForwardHost } from './nn.js';

export interface ActorExport {
  algorithm: 'maddpg' | 'mappo';
  agents: AgentID[];
  obsDims: number[];
  heads: number[][];
  shareActor: boolean;
  nets: { sizes: number[]; activation: Activation; params: Float32Array }[];
}

export function exportActors(trainer: MaddpgTrainer | MappoTrainer, algorithm: ActorExport['algorithm']): ActorExport {
  return {
    algorithm,
    agents: [...trainer.agents],
    obsDims: trainer.layout.map((a) => a.obsDim),
    heads: trainer.layout.map((a) => [...a.codec.heads]),
    shareActor: trainer.cfg.shareActor,
    nets: trainer.nets.actors.map((m) => ({ sizes: [...m.sizes], activation: m.activation, params: Float32Array.from(m.host) })),
  };
}

/**
 * The exported actors as a greedy Policy, for flat (Box) observations and MultiDiscrete actions:
 * each agent's observation row in, one Int32Array of head indices out.
 */
export function greedyActorPolicy(x: ActorExport, name: string = x.algorithm): Policy {
  const n = x.agents.length;
  return {
    name,
    act: (observations) => {
      const out: Record<AgentID, Int32Array> = {};
      x.agents.forEach((id, k) => {
        const o = observations[id] as ArrayLike<number> | undefined;
        if (!o) return;
        if (o.length !== x.obsDims[k]) throw new Error(`${name}: agent '${id}' observation has ${o.length} values, the actor was trained on ${x.obsDims[k]}`);
        let row: ArrayLike<number> = o;
        if (x.shareActor) {
          const r = new Float32Array(o.length + n);
          r.set(o);
          r[o.length + k] = 1;
          row = r;
        }
        const net = x.nets[x.shareActor ? 0 : k];
        out[id] = sampleCategorical(mlpForwardHost(net.sizes, net.activation, net.params, row), x.heads[k]);
      });
      return out;
    },
  };
}
