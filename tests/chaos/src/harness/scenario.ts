import { sleep } from '@dovewarden/testkit';
import { ChaosCluster, type ChaosClusterOptions } from './chaos-cluster';
import { dsyncLockReport } from './dsync-log';
import type { ExpectedFolders, LoadDriver, LoadDriverOptions, LoadReport } from './load-driver';
import { keepEvidence, recordResult } from './results';

/** The testkit's sleep, for the scenarios that import it from here. */
export { sleep };

/**
 * What the same run measured on the same machine, before its fault: every time bound of a
 * scenario is a multiple of this plus durations the scenario itself configures, never a bare
 * number of seconds that only holds on a quiet machine.
 */
export interface Calibration {
  /** The scenario's own load, without a fault, for CALIBRATION_LOAD_MS; then B matching A. */
  convergeMs: number;
  /** Syncs that went through A's Doveadm API during that load: their 90th percentile. */
  syncP90Ms: number;
  syncs: number;
  /** One comparison of every user (the resolution of a convergence measurement). */
  compareMs: number;
  /**
   * The unit of every bound: the calibration's convergence, but at least four syncs' time
   * (a backlog drained just as the load stopped makes a convergence of ~0), plus one
   * comparison.
   */
  unitMs: number;
}

export const CALIBRATION_LOAD_MS = 4000;

/** A bound: its value in ms, and in words what it is relative to, for the reliability table. */
export interface Bound {
  ms: number;
  relativeTo: string;
}

/** `factor` × the calibration unit, plus configured durations with their names. */
export function relativeBound(
  calibration: Calibration,
  factor: number,
  extras: Array<[string, number]> = [],
): Bound {
  const ms = factor * calibration.unitMs + extras.reduce((sum, [, value]) => sum + value, 0);
  const words = [
    `${factor} × calibration (${(calibration.unitMs / 1000).toFixed(1)} s)`,
    ...extras.map(([name, value]) => `${name} (${(value / 1000).toFixed(1)} s)`),
  ];
  return { ms, relativeTo: words.join(' + ') };
}

/**
 * A catch-up sweep syncs every user once, `concurrency` at a time: that many rounds of the
 * calibration's 90th-percentile sync. A bound term for the scenarios whose recovery is a sweep.
 */
export function catchUpSweep(
  calibration: Calibration,
  users: number,
  concurrency: number,
): [string, number] {
  return [
    `the catch-up sweep (${users} users, ${concurrency} at a time, at the p90 sync)`,
    Math.ceil(users / concurrency) * calibration.syncP90Ms,
  ];
}

export interface ScenarioOptions {
  /** As in docs/reliability.md, e.g. "1. No faults". */
  name: string;
  cluster?: ChaosClusterOptions;
  load?: Partial<LoadDriverOptions>;
  /** The load runs at least this long, and until `during` is done. */
  loadMs: number;
  /** The fault, injected while the load runs. */
  during?: (cluster: ChaosCluster, driver: LoadDriver, calibration: Calibration) => Promise<void>;
  /** After the load stops and before convergence is awaited (a fault that outlasts the load). */
  afterLoad?: (cluster: ChaosCluster) => Promise<void>;
  /** B must match A for every user within this bound after the load (and afterLoad) ends. */
  convergeWithin: (calibration: Calibration) => Bound;
  /**
   * Only where the fault itself makes the product give up on calls (a sync timeout shorter
   * than a sync): a call it abandoned may still run when the next one starts, and dsync's lock
   * (checked from A's log in every scenario) is what keeps them apart, not the lease.
   */
  excuseAbandonedCalls?: boolean;
  /** Checks of the scenario's own, with everything still running. */
  verify?: (
    cluster: ChaosCluster,
    outcome: ScenarioOutcome,
    calibration: Calibration,
  ) => Promise<void> | void;
  /** Fewer changes than this over the load is a driver that did not load A (default 5/s). */
  minChangesPerSecond?: number;
  notes?: string;
}

export interface ScenarioOutcome {
  load: LoadReport;
  convergenceMs: number;
  differences: string[];
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * Runs the scenario's load without a fault for a few seconds and measures what a bound needs:
 * how long B takes to match A after it, and how long one sync and one comparison take, on
 * this machine, now, with this cluster.
 */
export async function calibrate(
  cluster: ChaosCluster,
  load: Partial<LoadDriverOptions> | undefined,
): Promise<{ calibration: Calibration; driver: LoadDriver }> {
  const driver = cluster.driver({ ...load, prefix: 'C' });
  const from = cluster.syncProxy.syncs.length;
  const since = Date.now();
  driver.start();
  await sleep(CALIBRATION_LOAD_MS);
  const report = await driver.stop();
  if (report.errors.length > 0)
    throw new Error(`calibration load failed on A:\n${report.errors.join('\n')}`);
  const { ms, last } = await cluster.comparer.waitForConvergence(cluster.users, 120_000, {
    pending: () => cluster.pendingJobs(),
  });
  if (!last.equal)
    throw new Error(
      `calibration did not converge (t=0 is the calibration load's start):\n${last.differences.slice(0, 20).join('\n')}\n${await cluster.divergenceReport(last.differences, since)}`,
    );
  const durations = cluster.syncProxy.syncs
    .slice(from)
    .filter((s) => s.endedAt !== undefined)
    .map((s) => s.endedAt! - s.startedAt);
  const compareStarted = Date.now();
  await cluster.comparer.compare(cluster.users);
  const compareMs = Date.now() - compareStarted;
  const syncP90Ms = percentile(durations, 0.9);
  const calibration: Calibration = {
    convergeMs: ms,
    syncP90Ms,
    syncs: durations.length,
    compareMs,
    unitMs: Math.max(ms, 4 * syncP90Ms) + compareMs,
  };
  console.log(`calibration: ${JSON.stringify(calibration)}`);
  return { calibration, driver };
}

/** Folders on A that no lane left there, lane folders A lacks, and wrong message counts. */
export async function checkSourceHoldsWhatClientsLeft(
  cluster: ChaosCluster,
  expected: ExpectedFolders[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const user of cluster.users) {
    const onA = await cluster.comparer.mailboxesOnA(user);
    const wanted = new Map<string, number | undefined>([['INBOX', undefined]]);
    for (const e of expected) for (const [f, n] of e.byUser.get(user) ?? []) wanted.set(f, n);
    for (const [folder, messages] of onA) {
      if (!wanted.has(folder))
        problems.push(`${user} ${folder}: on A, but no client left it there`);
      else {
        const count = wanted.get(folder);
        if (count !== undefined && count !== messages)
          problems.push(`${user} ${folder}: ${messages} messages on A, the client put ${count}`);
      }
    }
    for (const folder of wanted.keys())
      if (!onA.has(folder)) problems.push(`${user} ${folder}: a client left it, A lacks it`);
  }
  return problems;
}

/**
 * One chaos scenario: start the cluster, seed every user, calibrate, run the load with the
 * fault, stop the load, then demand: convergence of every user within the bound, an empty
 * failed set, A holding exactly what the clients left there, one dsync per user at a time by
 * A's own log, no overlapping HTTP syncs, and a clean SIGTERM exit of every process. The
 * result, pass or fail, goes to the reliability table with its bound.
 */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioOutcome> {
  const cluster = await ChaosCluster.start(options.cluster);
  let outcome: ScenarioOutcome | undefined;
  let passed = false;
  let failure: string | undefined;
  let bound: Bound | undefined;
  try {
    await cluster.seed();
    const { calibration, driver: calibrationDriver } = await calibrate(cluster, options.load);
    bound = options.convergeWithin(calibration);
    const driver = cluster.driver(options.load);
    const loadStartedAt = Date.now();
    driver.start();
    await Promise.all([options.during?.(cluster, driver, calibration), sleep(options.loadMs)]);
    const load = await driver.stop();
    await options.afterLoad?.(cluster);
    const { ms, last } = await cluster.comparer.waitForConvergence(cluster.users, bound.ms, {
      pending: () => cluster.pendingJobs(),
    });
    outcome = { load, convergenceMs: ms, differences: last.differences };
    // Every client step on A succeeded (Dovecot's own CREATE race is shown, not an error)...
    if (load.createRaces.length > 0)
      console.log(
        `Dovecot refused ${load.createRaces.length} new-folder CREATE(s) with "Not found":\n${load.createRaces.join('\n')}`,
      );
    expect({ loadErrors: load.errors }).toEqual({ loadErrors: [] });
    // A slow machine stretches the load (changes start late, never dropped): shown, and the
    // bound below already comes from this run's own calibration.
    if (load.late > 0)
      console.log(
        `load: ${load.late} change(s) started late, at most ${load.maxBacklog} waiting; A answered a change in ${load.answerMs.p50} ms (median), ${load.answerMs.max} ms at the slowest`,
      );
    expect(driver.changes).toBeGreaterThan(
      (options.loadMs / 1000) * (options.minChangesPerSecond ?? 5),
    );
    // ...and A holds exactly what the clients left: no folder resurrected or renamed back.
    expect({
      sourceProblems: (
        await checkSourceHoldsWhatClientsLeft(cluster, [
          calibrationDriver.expected(),
          driver.expected(),
        ])
      ).slice(0, 20),
    }).toEqual({ sourceProblems: [] });
    if (!last.equal)
      throw new Error(
        `B did not equal A within the bound (t=0 is the load's start):\n${last.differences.slice(0, 20).join('\n')}\n${await cluster.divergenceReport(last.differences, loadStartedAt)}`,
      );
    expect(ms).toBeLessThanOrEqual(bound.ms);
    // The queue must drain too: a sync still retrying means something is not done.
    await cluster.waitFor(async () => (await cluster.pendingJobs()) === 0, bound.ms, 'queue drain');
    expect(await cluster.failures()).toEqual({ failedUsers: [], failedJobs: 0 });
    // At most one dsync per user at a time, by A's own log: every dsync that touched a user's
    // mailboxes held the user's lock, and no two lock intervals of one user overlap.
    const locks = dsyncLockReport(cluster.pair.a);
    expect({ dsyncLockViolations: locks.violations.slice(0, 20) }).toEqual({
      dsyncLockViolations: [],
    });
    expect(locks.working).toBeGreaterThan(0);
    // And by the sync calls, as the proxy in front of A's doveadm TCP listener timed them: the
    // product's lease keeps a second call from even waiting on the lock on A.
    expect(cluster.syncProxy.overlaps(options.excuseAbandonedCalls ?? false)).toEqual([]);
    // Every sync went through that proxy, none through A's HTTP API.
    expect(cluster.doveadmProxy.syncs).toEqual([]);
    // A scenario measured in the backup mode (CHAOS_SYNC_MODE) ran doveadm backup indeed.
    const commands = { sync: 0, backup: 0 };
    const statuses: Record<string, number> = {};
    for (const sync of cluster.syncProxy.syncs) {
      commands[sync.command] += 1;
      const status = sync.status ?? 'no answer';
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
    console.log(
      `dsync runs through A's doveadm listener: ${JSON.stringify(commands)}, answers ${JSON.stringify(statuses)}; B equal to A ${ms} ms after the load`,
    );
    if (process.env.CHAOS_SYNC_MODE === 'backup')
      expect(commands).toEqual({ sync: 0, backup: commands.backup });
    await options.verify?.(cluster, outcome, calibration);
    // Secrets never show, whatever happened (also checked over all output in the security test).
    const output = cluster.allOutput();
    for (const secret of Object.values(cluster.secrets)) expect(output).not.toContain(secret);
    const { uncleanExits } = await cluster.stop();
    expect(uncleanExits).toEqual([]);
    passed = true;
    return outcome;
  } catch (error: unknown) {
    // Kept for the summary printed after the suite (render-results.js): a CI log shows its
    // tail, and the reason of a failure must be in it.
    failure = (error instanceof Error ? error.message : String(error))
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;]*m/g, '')
      .slice(0, 8000);
    throw error;
  } finally {
    /** Dovecot's own log of each side, while its folder is still there. */
    const dovecotLogs = (): { name: string; text: string }[] =>
      (['a', 'b'] as const).flatMap((side) => {
        try {
          return [{ name: `dovecot-${side}`, text: cluster.pair[side].readLog() }];
        } catch {
          return [];
        }
      });
    const keepOutputs = (label: string): string =>
      keepEvidence(label, [
        ...cluster.everStarted.map((p, index) => ({
          name: `${String(index).padStart(2, '0')}-${p.role}`,
          text: p.process.output.join('\n'),
        })),
        ...dovecotLogs(),
      ]);
    // CHAOS_KEEP_EVIDENCE=1 keeps a passing run's output too, to compare with a failed one.
    if (passed && process.env.CHAOS_KEEP_EVIDENCE === '1') keepOutputs(`passed ${options.name}`);
    if (!passed) {
      // Leave the evidence in the test output, then clean up without masking the failure.
      const tail = cluster.everStarted
        .map((p) => `--- ${p.role} ---\n${p.process.output.slice(-10).join('\n')}`)
        .join('\n');
      const evidence = keepOutputs(`failed ${options.name}`);
      console.error(`${options.name} failed; whole output in ${evidence}; last output:\n${tail}`);
      await cluster.stop().catch(() => undefined);
    }
    recordResult({
      scenario: options.name,
      passed,
      ...(failure === undefined ? {} : { failure }),
      convergenceMs: outcome?.convergenceMs,
      boundMs: bound?.ms,
      boundRelativeTo: bound?.relativeTo,
      changes:
        outcome === undefined ? 0 : Object.values(outcome.load.done).reduce((a, b) => a + b, 0),
      notes:
        (options.notes ?? '') +
        (outcome !== undefined && outcome.load.createRaces.length > 0
          ? `; ${outcome.load.createRaces.length} CREATE(s) refused by Dovecot's own race`
          : ''),
    });
  }
}
