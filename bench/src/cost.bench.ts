/**
 * What one replicated change costs the controller, in the real path: Dovecot A exports real
 * events for real IMAP APPENDs, the controller runs real doveadm syncs to B. Measured side by
 * side in one run for:
 * - replicator-2.3: Dovecot 2.3's own replicator and aggregator (what dovewarden replaces);
 * - dovewarden-all-2.4: `dovewarden all` as `npm start` runs it (one Node process, embedded
 *   redis-server), with Dovecot 2.4;
 * - dovewarden-2.4: ingest, worker and scheduler as separate processes with their own
 *   redis-server, for the split of the cost by app;
 * - bare-dsync-2.4: no controller, a Doveadm API sync right after each change (latency floor).
 *
 * Per system: idle CPU rate of each controller process over IDLE_SECONDS, then single APPENDs
 * (latency on an idle system), then LOAD_RATE APPENDs a second for LOAD_SECONDS. CPU per change
 * = (CPU used during the load step - idle rate x its length) / changes; peak RSS is VmHWM
 * since the process started.
 *
 * Usage: npm run bench:cost -w @dovewarden/bench [-- --quick] [-- --cpu-prof DIR]
 * Environment: BENCH_COST_SYSTEMS (comma-separated subset), BENCH_COST_RATE, BENCH_COST_SECONDS.
 * Writes bench/results/cost.json; the first table of docs/benchmarks.md is rendered from it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDovecot23Sync, ensureDovecot24Sync } from '@dovewarden/testkit';
import {
  type CostReport,
  type CostSystemResult,
  costTable,
  writeCostSection,
} from './e2e/cost-report';
import {
  closeSession,
  openSession,
  singleAppends,
  summariseSamples,
  sustainedLoad,
} from './e2e/scenarios';
import {
  type DovewardenTuning,
  type SystemId,
  type SystemUnderTest,
  startBareDsync,
  startDovewarden,
  startDovewardenAll,
  startReplicator,
} from './e2e/systems';
import { cpuSeconds, peakRssMiB, progress, round, sleep, wakeUps } from './e2e/util';

const quick = process.argv.includes('--quick');
const profDirArg = process.argv.indexOf('--cpu-prof');
const cpuProfDir =
  profDirArg === -1 ? undefined : path.resolve(process.argv[profDirArg + 1] ?? 'cpu-profiles');
const USERS = Array.from({ length: 20 }, (_, i) => `user${i + 1}`);
const IDLE_SECONDS = quick ? 5 : 10;
const SINGLES = quick ? 10 : 20;
const LOAD_RATE = Number(process.env.BENCH_COST_RATE ?? 20);
const LOAD_SECONDS = Number(process.env.BENCH_COST_SECONDS ?? (quick ? 15 : 30));
const LIMIT_MS = 30_000;

function tuning(id: string): DovewardenTuning {
  // For `perf record`: symbol maps of JIT-compiled JavaScript in /tmp/perf-PID.map.
  if (process.argv.includes('--perf-map')) return { nodeArgs: ['--perf-basic-prof'] };
  if (cpuProfDir === undefined) return {};
  const dir = path.join(cpuProfDir, id);
  fs.mkdirSync(dir, { recursive: true });
  return { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] };
}

const STARTERS: Record<string, () => Promise<SystemUnderTest>> = {
  'replicator-2.3': () => startReplicator(USERS),
  'dovewarden-all-2.4': () => startDovewardenAll('2.4', USERS, tuning('dovewarden-all-2.4')),
  'dovewarden-2.4': () => startDovewarden('2.4', USERS, tuning('dovewarden-2.4')),
  'bare-dsync-2.4': () => startBareDsync('2.4', USERS),
};

async function measure(id: SystemId): Promise<CostSystemResult> {
  progress(`cost ${id}: starting`);
  const sys = await STARTERS[id]();
  try {
    const session = await openSession(sys, USERS, LIMIT_MS);
    const processes = await sys.controllerProcesses();
    // Start-up work (JIT, the first sweep, AOF rewrite) settles before the idle window.
    await sleep(3000);
    const idleStart = processes.map((p) => cpuSeconds(p.pid));
    const idleWakeStart = processes.map((p) => wakeUps(p.pid));
    const idleT0 = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const idleSeconds = (performance.now() - idleT0) / 1000;
    const idleRate = processes.map(
      (p, i) => (cpuSeconds(p.pid) - (idleStart[i] ?? 0)) / idleSeconds,
    );
    const idleWakeRate = processes.map(
      (p, i) => (wakeUps(p.pid) - (idleWakeStart[i] ?? 0)) / idleSeconds,
    );
    progress(`cost ${id}: idle ${round(idleRate.reduce((s, r) => s + r, 0) * 1000, 1)} ms CPU/s`);

    const singles = await singleAppends(session, SINGLES);
    const single = summariseSamples(singles);
    progress(`cost ${id}: single APPEND p50 ${single.p50} ms`);

    const before = processes.map((p) => cpuSeconds(p.pid));
    const wakeBefore = processes.map((p) => wakeUps(p.pid));
    const t0 = performance.now();
    const step = await sustainedLoad(session, LOAD_RATE, LOAD_SECONDS, LIMIT_MS);
    // Trailing syncs and their bookkeeping.
    await sleep(1000);
    const seconds = (performance.now() - t0) / 1000;
    const perProcess = processes.map((p, i) => {
      const used = cpuSeconds(p.pid) - (before[i] ?? 0);
      const beyondIdle = used - (idleRate[i] ?? 0) * seconds;
      return {
        name: p.name,
        idleMsPerSecond: round((idleRate[i] ?? 0) * 1000, 2),
        cpuSeconds: round(used, 3),
        msPerChange: round((beyondIdle * 1000) / Math.max(1, step.sent), 3),
        wakeUpsPerChange: round(
          (wakeUps(p.pid) - (wakeBefore[i] ?? 0) - (idleWakeRate[i] ?? 0) * seconds) /
            Math.max(1, step.sent),
          1,
        ),
        peakRssMiB: round(peakRssMiB(p.pid)),
      };
    });
    await closeSession(session);
    const result: CostSystemResult = {
      id,
      changes: step.sent,
      loadSeconds: round(seconds, 1),
      dsyncRuns: step.dsyncRuns,
      singleP50Ms: single.p50,
      loadP50Ms: step.latency.p50,
      keptUp: step.keptUp,
      processes: perProcess,
      msPerChange: round(
        perProcess.reduce((s, p) => s + p.msPerChange, 0),
        3,
      ),
      peakRssMiB: round(perProcess.reduce((s, p) => s + p.peakRssMiB, 0)),
    };
    progress(
      `cost ${id}: ${result.msPerChange} ms CPU per change (${perProcess.map((p) => `${p.name} ${p.msPerChange}`).join(', ')}), peak RSS ${result.peakRssMiB} MiB`,
    );
    return result;
  } finally {
    await sys.stop();
  }
}

async function main(): Promise<void> {
  const benchDir = path.resolve(__dirname, '..');
  const resultsDir = path.join(benchDir, 'results');
  const wanted = (process.env.BENCH_COST_SYSTEMS ?? Object.keys(STARTERS).join(','))
    .split(',')
    .filter((s): s is SystemId => s in STARTERS);
  const results: CostSystemResult[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const id of wanted) {
    const avail = id.endsWith('2.4') ? ensureDovecot24Sync() : ensureDovecot23Sync();
    if (!avail.ok) {
      skipped.push({ id, reason: avail.reason });
      continue;
    }
    try {
      results.push(await measure(id));
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      progress(`cost ${id}: failed: ${reason}`);
      skipped.push({ id, reason });
    }
  }
  const report: CostReport = {
    quick,
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
    },
    parameters: {
      users: USERS.length,
      idleSeconds: IDLE_SECONDS,
      singles: SINGLES,
      rate: LOAD_RATE,
      seconds: LOAD_SECONDS,
    },
    results,
    skipped,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'cost.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeCostSection(report, path.join(benchDir, '..', 'docs'));
  for (const line of costTable(report)) console.log(line);
  if (results.length === 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
