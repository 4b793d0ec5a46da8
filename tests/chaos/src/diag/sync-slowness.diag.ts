// Not part of the suite: `npx jest --testMatch '**/*.diag.ts' src/diag/sync-slowness.diag.ts`.
// Measures where a sync's time goes inside the chaos cluster (docs/reliability.md, "Why a
// sync is slow in the chaos cluster").
import { DoveadmClient } from '@dovewarden/doveadm-client';
import { ChaosCluster } from '../harness/chaos-cluster';
import { ProcSampler, type ProcSummary } from '../harness/proc-sampler';
import { sleep } from '../harness/scenario';

function stats(values: number[]): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1] ?? 0 };
}

const MODE = process.env.DIAG_MODE ?? 'default';

describe('diag', () => {
  it('where a sync spends its time in the chaos cluster', async () => {
    const cluster = await ChaosCluster.start({
      ...(process.env.DIAG_USERS ? { users: Number(process.env.DIAG_USERS) } : {}),
    });
    const a = cluster.pair.a;
    const b = cluster.pair.b;
    const workerPids = () => new Set(cluster.everStarted.map((p) => p.process.pid));
    const sampler = (): ProcSampler =>
      new ProcSampler((pid, comm, ppid) => {
        if (pid === process.pid) return 'jest (load driver, comparer, proxies)';
        if (workerPids().has(pid))
          return `node ${cluster.everStarted.find((p) => p.process.pid === pid)?.role}`;
        if (ppid === a.pid) return `A ${comm}`;
        if (ppid === b.pid) return `B ${comm}`;
        if (pid === a.pid || pid === b.pid) return 'dovecot masters';
        if (comm === 'redis-server') return 'redis';
        return 'other (not the cluster)';
      });
    const client = new DoveadmClient({ url: a.doveadmHttpUrl, password: a.doveadmPassword });
    const probeUser = cluster.users[cluster.users.length - 1];
    let state = '';
    const timedSync = async (): Promise<number> => {
      const t = Date.now();
      state = (await client.sync(probeUser, { destination: b.dsyncDestination, state })).state;
      return Date.now() - t;
    };
    const report: Record<string, unknown> = { mode: MODE };
    // DIAG_BUSY=1: one core kept busy by another process, as on a shared CI machine.
    const busy =
      process.env.DIAG_BUSY === '1'
        ? (await import('node:child_process')).spawn(process.execPath, ['-e', 'for(;;){}'], {
            stdio: 'ignore',
          })
        : undefined;
    try {
      await cluster.seed();
      await sleep(2000);
      // 1. Idle: the same incremental sync on the idle pair.
      await timedSync();
      const idle: number[] = [];
      const idleSampler = sampler();
      idleSampler.start();
      for (let i = 0; i < 10; i += 1) idle.push(await timedSync());
      report.idleProbe = stats(idle);
      report.idleProc = idleSampler.stop();

      // 2. Under the scenario-1 load (every user but the probe user), with the probe synced
      // directly once a second: machine contention shows on it, per-user contention does not.
      const driver = cluster.driver({
        users: cluster.users.slice(0, -1),
        ...(MODE === 'hammer' ? { connectionsPerUser: 20, ratePerSecond: 40 } : {}),
        ...(process.env.DIAG_RATE ? { ratePerSecond: Number(process.env.DIAG_RATE) } : {}),
      });
      const loadSampler = sampler();
      const cpuBefore = process.cpuUsage();
      const syncsBefore = cluster.syncProxy.syncs.length;
      loadSampler.start();
      driver.start();
      const probe: number[] = [];
      const until = Date.now() + 12_000;
      while (Date.now() < until) {
        probe.push(await timedSync());
        await sleep(500);
      }
      const load = await driver.stop();
      const loadProc: ProcSummary = loadSampler.stop();
      const cpu = process.cpuUsage(cpuBefore);
      report.loadProbe = stats(probe);
      report.loadProc = loadProc;
      report.jestCpuSeconds = (cpu.user + cpu.system) / 1e6;
      report.loadChanges = load.done;
      report.loadErrors = load.errors.length;
      const during = cluster.syncProxy.syncs.slice(syncsBefore);
      report.proxiedSyncsDuringLoad = stats(
        during.filter((s) => s.endedAt !== undefined).map((s) => s.endedAt! - s.startedAt),
      );
      // Concurrency of proxied syncs: sample the number in flight every 50 ms of the window.
      const starts = during.map((s) => s.startedAt);
      if (starts.length > 0) {
        const t0 = Math.min(...starts);
        const t1 = Math.max(...during.map((s) => s.endedAt ?? s.startedAt));
        const inFlight: number[] = [];
        for (let t = t0; t <= t1; t += 50)
          inFlight.push(during.filter((s) => s.startedAt <= t && (s.endedAt ?? t1) > t).length);
        report.syncsInFlight = stats(inFlight);
        report.syncsPerUser = stats(
          [...new Set(during.map((s) => s.user))].map(
            (u) => during.filter((s) => s.user === u).length,
          ),
        );
      }
      // 3. Convergence, with the comparer polling.
      const convSampler = sampler();
      const syncsBeforeConv = cluster.syncProxy.syncs.length;
      convSampler.start();
      const { ms, last } = await cluster.comparer.waitForConvergence(
        cluster.users.slice(0, -1),
        60_000,
      );
      report.convergence = { ms, equal: last.equal };
      report.convergenceProc = convSampler.stop();
      const conv = cluster.syncProxy.syncs.slice(syncsBeforeConv);
      report.proxiedSyncsDuringConvergence = stats(
        conv.filter((s) => s.endedAt !== undefined).map((s) => s.endedAt! - s.startedAt),
      );
      // One compare round of every user, with nothing else running.
      await sleep(2000);
      const rounds: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const t = Date.now();
        await cluster.comparer.compare(cluster.users);
        rounds.push(Date.now() - t);
      }
      report.compareRoundIdle = stats(rounds);
      // Probe sync while a compare round runs.
      const probeWhileComparing: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const round = cluster.comparer.compare(cluster.users);
        await sleep(100);
        probeWhileComparing.push(await timedSync());
        await round;
      }
      report.probeDuringCompare = stats(probeWhileComparing);
      // The workers' own account: runs per job (exit-2 re-runs, rename second passes) and ms.
      const synced = cluster.everStarted
        .flatMap((p) => p.process.output)
        .filter((line) => line.includes('"synced"') || line.includes('synced'))
        .map((line) => {
          try {
            return JSON.parse(line.slice(line.indexOf('{'))) as {
              runs?: number;
              ms?: number;
              msg?: string;
            };
          } catch {
            return undefined;
          }
        })
        .filter(
          (x): x is { runs: number; ms: number } => x !== undefined && typeof x.ms === 'number',
        );
      report.workerSynced = {
        ms: stats(synced.map((s) => s.ms)),
        runs: stats(synced.map((s) => s.runs)),
        jobsWithReruns: synced.filter((s) => s.runs > 1).length,
      };
    } catch (error) {
      for (const p of cluster.everStarted)
        console.error(`--- ${p.role}\n${p.process.output.slice(-8).join('\n')}`);
      console.error(a.readLog().split('\n').slice(-20).join('\n'));
      throw error;
    } finally {
      client.close();
      busy?.kill('SIGKILL');
      console.log(JSON.stringify(report, null, 1));
      await cluster.stop();
    }
  });
});
