/** The Policy interface lives in env/policy.ts (env baselines implement it too); re-exported here for the agents. */
export type { Policy } from '../env/policy.js';
