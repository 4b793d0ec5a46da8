import { ChaosCluster, type ChaosClusterOptions } from './chaos-cluster';
import type { LoadDriver, LoadDriverOptions, LoadReport } from './load-driver';
import { recordResult } from './results';

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export interface ScenarioOptions {
  /** As in docs/reliability.md, e.g. "1. No faults". */
  name: string;
  cluster?: ChaosClusterOptions;
  load?: Partial<LoadDriverOptions>;
  /** The load runs at least this long, and until `during` is done. */
  loadMs: number;
  /** The fault, injected while the load runs. */
  during?: (cluster: ChaosCluster, driver: LoadDriver) => Promise<void>;
  /** After the load stops and before convergence is awaited (a fault that outlasts the load). */
  afterLoad?: (cluster: ChaosCluster) => Promise<void>;
  /** B must match A for every user within this long after the load (and afterLoad) ends. */
  convergeWithinMs: number;
  /** Off only where the fault itself makes the server run a user's sync twice (a timed-out call). */
  checkOverlaps?: boolean;
  /** Checks of the scenario's own, with everything still running. */
  verify?: (cluster: ChaosCluster, outcome: ScenarioOutcome) => Promise<void> | void;
  notes?: string;
}

export interface ScenarioOutcome {
  load: LoadReport;
  convergenceMs: number;
  differences: string[];
}

/**
 * One chaos scenario: start the cluster, seed every user, run the load with the fault, stop
 * the load, then demand convergence of every user, an empty failed set, no overlapping syncs of
 * one user on the server, and a clean SIGTERM exit of every process. The result, pass or fail,
 * goes to the reliability table.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioOutcome> {
  const cluster = await ChaosCluster.start(options.cluster);
  let outcome: ScenarioOutcome | undefined;
  let passed = false;
  try {
    await cluster.seed();
    const driver = cluster.driver(options.load);
    driver.start();
    await Promise.all([options.during?.(cluster, driver), sleep(options.loadMs)]);
    const load = await driver.stop();
    await options.afterLoad?.(cluster);
    const { ms, last } = await cluster.comparer.waitForConvergence(
      cluster.users,
      options.convergeWithinMs,
    );
    outcome = { load, convergenceMs: ms, differences: last.differences };
    expect({ loadErrors: load.errors }).toEqual({ loadErrors: [] });
    expect(load.skipped).toBe(0);
    expect(driver.changes).toBeGreaterThan((options.loadMs / 1000) * 5);
    expect({ differences: last.differences.slice(0, 20) }).toEqual({ differences: [] });
    expect(ms).toBeLessThanOrEqual(options.convergeWithinMs);
    // The queue must drain too: a sync still retrying means something is not done.
    await cluster.waitFor(async () => (await cluster.pendingJobs()) === 0, 20_000, 'queue drain');
    expect(await cluster.failures()).toEqual({ failedUsers: [], failedJobs: 0 });
    if (options.checkOverlaps ?? true) expect(cluster.doveadmProxy.overlaps()).toEqual([]);
    await options.verify?.(cluster, outcome);
    // Secrets never show, whatever happened (also checked over all output in the security test).
    const output = cluster.allOutput();
    for (const secret of Object.values(cluster.secrets)) expect(output).not.toContain(secret);
    const { uncleanExits } = await cluster.stop();
    expect(uncleanExits).toEqual([]);
    passed = true;
    return outcome;
  } finally {
    if (!passed) {
      // Leave the evidence in the test output, then clean up without masking the failure.
      const tail = cluster.everStarted
        .map((p) => `--- ${p.role} ---\n${p.process.output.slice(-10).join('\n')}`)
        .join('\n');
      console.error(`${options.name} failed; last output:\n${tail}`);
      await cluster.stop().catch(() => undefined);
    }
    recordResult({
      scenario: options.name,
      passed,
      convergenceMs: outcome?.convergenceMs,
      changes:
        outcome === undefined ? 0 : Object.values(outcome.load.done).reduce((a, b) => a + b, 0),
      notes: options.notes ?? '',
    });
  }
}
