/**
 * `topsched env-check`: PettingZoo's parallel API and seed tests (env/checker.ts) on every registered
 * env; prints pass/fail per env and fails (exit 1) when any env fails.
 */
import type { Command } from 'commander';
import { CheckError, checkParallelEnv, envSpec, loadWorkloadFile, make, registeredEnvs } from '../../env/index.js';
import { parallelApiTest, parallelSeedTest } from '../../env/pettingzoo-tests.js';
import { printJson, table } from '../format.js';
import { intOption } from './options.js';

interface EnvCheckOpts {
  workload?: string;
  steps: number;
  maxSteps: number;
  seed: number;
  json?: boolean;
}

export function registerEnvCheck(program: Command): void {
  program
    .command('env-check')
    .description('run the parallel-env API and seed tests on every registered env; exit 1 if any fails')
    .option('--workload <file>', 'check the envs on this workload (YAML/JSON) instead of their default one')
    .option('--steps <n>', 'steps of the API test and of each seed-test run', intOption('--steps'), 30)
    .option('--max-steps <n>', "each env's episode length (shorter than --steps, so the end of an episode is checked too)", intOption('--max-steps'), 25)
    .option('--seed <n>', 'seed of the resets and of the random actions', intOption('--seed', 0), 42)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  topsched env-check\n  topsched env-check --workload experiments/workloads/bursty-four.yaml --json')
    .action((opts: EnvCheckOpts) => {
      // Read once up front so a bad file is one error naming it, not one failure per env.
      const workload = opts.workload ? loadWorkloadFile(opts.workload) : undefined;
      const results = registeredEnvs().map((id) => {
        const t0 = performance.now();
        try {
          const factory = () => make(id, { maxSteps: opts.maxSteps, ...(workload ? { workload } : {}) });
          const r = checkParallelEnv(factory, { steps: opts.steps, seed: opts.seed });
          // PettingZoo's own tests as upstream wrote them (their warnings are failures here).
          const warnings = parallelApiTest(factory(), 1000);
          if (warnings.length) throw new CheckError(warnings.map((w) => `parallel_api_test: ${w}`));
          parallelSeedTest(factory, 500);
          return { id, description: envSpec(id).description, pass: true, failures: [] as string[], ...r, seconds: (performance.now() - t0) / 1000 };
        } catch (e) {
          const failures = e instanceof CheckError ? e.failures : [(e as Error).message];
          return { id, description: envSpec(id).description, pass: false, failures, seconds: (performance.now() - t0) / 1000 };
        }
      });
      const failed = results.filter((r) => !r.pass);
      if (opts.json) printJson(results);
      else {
        console.log(
          table(
            ['env', 'result', 'seconds', 'description'],
            results.map((r) => [r.id, r.pass ? 'pass' : 'FAIL', r.seconds.toFixed(2), r.description]),
          ),
        );
        for (const r of failed) for (const f of r.failures) console.log(`  ${r.id}: ${f}`);
      }
      if (failed.length)
        throw new Error(
          `env-check: ${failed.length} of ${results.length} envs failed: ${failed.map((r) => `${r.id} (${r.failures[0].split('\n')[0]})`).join('; ')}`,
        );
    });
}
