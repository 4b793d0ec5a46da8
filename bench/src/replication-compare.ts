/**
 * End-to-end comparison, on this machine and in one run, of:
 * - Dovecot 2.3.19 with its own replicator (the peer dovewarden replaces);
 * - Dovecot 2.3 and 2.4 with dovewarden (ingest, worker and scheduler as separate processes, a
 *   redis-server of their own, A exporting events to ingest);
 * - a bare incremental `doveadm sync` through A's Doveadm API right after each change (the
 *   baseline any controller adds to), on both Dovecot versions.
 * Every system gets a fresh pair of sdbox servers with the same users and the same load.
 * Changes are made over IMAP (and LMTP) on A; B is watched over IMAP (see ReplicaWatcher).
 *
 * Usage: npm run bench -w @dovewarden/bench [-- --quick], or node dist/replication-compare.js.
 * Environment: BENCH_E2E_RATES (e.g. "20,40,80"), BENCH_E2E_STEP_SECONDS,
 * BENCH_E2E_NUM_WORKERS / BENCH_E2E_MAX_PARALLEL_SYNCS (dovewarden tuning; defaults: its own),
 * BENCH_E2E_SYSTEMS (comma-separated subset of the system ids).
 * Writes bench/results/latest.json, docs/benchmarks.md and docs/benchmark-*.png; with
 * --report-only it re-renders docs/ from the saved latest.json without measuring.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDovecot23Sync, ensureDovecot24Sync } from '@dovewarden/testkit';
import { writeReport, type E2eReport, type SystemResult } from './e2e/report';
import {
  bursts,
  closeSession,
  openSession,
  otherChanges,
  singleAppends,
  summariseSamples,
  sustainedLoad,
  type LatencySample,
  type ThroughputStep,
} from './e2e/scenarios';
import {
  startBareDsync,
  startDovewarden,
  startDovewardenAll,
  startReplicator,
  type SystemId,
  type SystemUnderTest,
} from './e2e/systems';
import { cpuSeconds, now, peakRssMiB, progress, round } from './e2e/util';

const quick = process.argv.includes('--quick');
const USERS = Array.from({ length: 20 }, (_, i) => `user${i + 1}`);
const SINGLES = 30;
const BURSTS = quick ? 2 : 5;
const OTHER_REPS = quick ? 6 : 20;
const RATES = (process.env.BENCH_E2E_RATES ?? (quick ? '20,60' : '20,40,80'))
  .split(',')
  .map(Number)
  .filter((r) => r > 0);
const STEP_SECONDS = Number(process.env.BENCH_E2E_STEP_SECONDS ?? (quick ? 15 : 120));
/** How long a change may take before it counts as never replicated (the replicator's 5-min backoff is longer). */
const LIMIT_MS = quick ? 20_000 : 60_000;

function envNumber(name: string): number | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : Number(value);
}

const tuning = {
  numWorkers: envNumber('BENCH_E2E_NUM_WORKERS'),
  maxParallelSyncs: envNumber('BENCH_E2E_MAX_PARALLEL_SYNCS'),
};

const STARTERS: Record<SystemId, () => Promise<SystemUnderTest>> = {
  'bare-dsync-2.3': () => startBareDsync('2.3', USERS),
  'replicator-2.3': () => startReplicator(USERS),
  'dovewarden-2.3': () => startDovewarden('2.3', USERS, tuning),
  'dovewarden-2.4': () => startDovewarden('2.4', USERS, tuning),
  'bare-dsync-2.4': () => startBareDsync('2.4', USERS),
  'dovewarden-all-2.4': () => startDovewardenAll('2.4', USERS, tuning),
};
/** Measured unless BENCH_E2E_SYSTEMS names others; the all-in-one's figures are cost.bench's. */
const DEFAULT_SYSTEMS: SystemId[] = [
  'bare-dsync-2.3',
  'replicator-2.3',
  'dovewarden-2.3',
  'dovewarden-2.4',
  'bare-dsync-2.4',
];

/** Where the time of each single APPEND went, from the worker's own log of its syncs. */
function profile(sys: SystemUnderTest, samples: readonly LatencySample[]): SystemResult['profile'] {
  const records = sys.syncRecords();
  if (records.length === 0) return undefined;
  const pickup: number[] = [];
  const sync: number[] = [];
  const visible: number[] = [];
  for (const s of samples) {
    // The sync that carried the change is the user's first one to start after A's answer.
    const r = records
      .filter((rec) => rec.user === s.user && rec.startedAt >= s.ackAt - 1)
      .sort((x, y) => x.startedAt - y.startedAt)[0];
    if (r === undefined || !Number.isFinite(s.seenAt)) continue;
    pickup.push(r.startedAt - s.ackAt);
    sync.push(r.finishedAt - r.startedAt);
    visible.push(s.seenAt - r.finishedAt);
  }
  const median = (v: number[]): number =>
    round([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN);
  return {
    samples: pickup.length,
    ackToSyncStartMs: median(pickup),
    syncMs: median(sync),
    syncEndToVisibleMs: median(visible),
  };
}

async function runSystem(id: SystemId): Promise<SystemResult> {
  progress(`${id}: starting`);
  const startedAt = now();
  const sys = await STARTERS[id]();
  try {
    const session = await openSession(sys, USERS, LIMIT_MS);
    const processes = await sys.controllerProcesses();
    const cpuStart = new Map(processes.map((p) => [p.pid, cpuSeconds(p.pid)]));
    const phaseRuns: Record<string, { changes: number; dsyncRuns: number }> = {};
    const counted = async <T>(
      phase: string,
      changes: (r: T) => number,
      fn: () => Promise<T>,
    ): Promise<T> => {
      const before = sys.dsyncSessions();
      const result = await fn();
      // dovewarden's follow-up passes (after a rename) land a moment after the change is visible.
      phaseRuns[phase] = { changes: changes(result), dsyncRuns: sys.dsyncSessions() - before };
      return result;
    };
    progress(`${id}: ${SINGLES} single APPENDs`);
    const single = await counted(
      'single',
      (r) => r.length,
      () => singleAppends(session, SINGLES),
    );
    progress(`${id}: single p50 ${summariseSamples(single).p50} ms; ${BURSTS} bursts`);
    const burst = await counted(
      'bursts',
      (r) => r.length,
      () => bursts(session, BURSTS, 5),
    );
    progress(`${id}: burst p50 ${summariseSamples(burst).p50} ms; other changes`);
    const others = await counted(
      'others',
      // A timed rename also creates its folder first: two changes.
      (r) => r.flag.length + r.expunge.length + r.lmtp.length + 2 * r.rename.length,
      () => otherChanges(session, OTHER_REPS),
    );
    const throughput: ThroughputStep[] = [];
    if (!id.startsWith('bare-')) {
      for (const rate of RATES) {
        const step = await sustainedLoad(session, rate, STEP_SECONDS, LIMIT_MS);
        throughput.push(step);
        if (!step.keptUp) break;
      }
    }
    const cost = processes.map((p) => ({
      name: p.name,
      cpuSeconds: round(cpuSeconds(p.pid) - (cpuStart.get(p.pid) ?? NaN), 2),
      peakRssMiB: round(peakRssMiB(p.pid)),
    }));
    const workerOutcomes = await sys.workerOutcomes();
    const elapsed = (now() - startedAt) / 1000;
    await closeSession(session);
    const result: SystemResult = {
      id,
      version: sys.version,
      settings: sys.settings,
      latency: {
        single: summariseSamples(single),
        bursts: summariseSamples(burst),
        flag: summariseSamples(others.flag),
        expunge: summariseSamples(others.expunge),
        rename: summariseSamples(others.rename),
        lmtp: summariseSamples(others.lmtp),
      },
      samples: {
        single: single.map((s) => round(s.seenAt - s.ackAt)),
        bursts: burst.map((s) => round(s.seenAt - s.ackAt)),
      },
      dsyncPerChange: Object.fromEntries(
        Object.entries(phaseRuns).map(([k, v]) => [
          k,
          { ...v, ratio: round(v.dsyncRuns / Math.max(1, v.changes), 3) },
        ]),
      ),
      throughput,
      cost,
      profile: profile(sys, single),
      workerOutcomes,
      elapsedSeconds: round(elapsed),
    };
    progress(`${id}: done in ${result.elapsedSeconds} s`);
    return result;
  } finally {
    await sys.stop();
  }
}

function dovecotVersion(version: '2.3' | '2.4'): string {
  const avail = version === '2.3' ? ensureDovecot23Sync() : ensureDovecot24Sync();
  if (!avail.ok) return `missing: ${avail.reason}`;
  const [cmd, args] =
    version === '2.3'
      ? ['/usr/sbin/dovecot', ['--version']]
      : ['chroot', [avail.root, '/usr/sbin/dovecot', '--version']];
  const out = spawnSync(cmd, args, { encoding: 'utf8' });
  return (out.stdout ?? '').trim() || version;
}

async function main(): Promise<void> {
  const benchDir = path.resolve(__dirname, '..');
  const resultsDir = path.join(benchDir, 'results');
  if (process.argv.includes('--report-only')) {
    // Re-renders docs/ from the last measured results, e.g. after a change to the report.
    const saved = JSON.parse(
      fs.readFileSync(path.join(resultsDir, 'latest.json'), 'utf8'),
    ) as E2eReport;
    writeReport(saved, resultsDir, path.join(benchDir, '..', 'docs'));
    return;
  }
  const wanted = (process.env.BENCH_E2E_SYSTEMS ?? DEFAULT_SYSTEMS.join(','))
    .split(',')
    .filter((s): s is SystemId => s in STARTERS);
  const have24 = ensureDovecot24Sync().ok;
  const results: SystemResult[] = [];
  const skipped: Array<{ id: SystemId; reason: string }> = [];
  for (const id of wanted) {
    if (id.endsWith('2.4') && !have24) {
      skipped.push({ id, reason: 'Dovecot 2.4 chroot missing (scripts/setup-dovecot.sh)' });
      continue;
    }
    try {
      results.push(await runSystem(id));
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      progress(`${id}: failed: ${reason}`);
      skipped.push({ id, reason });
    }
  }
  const report: E2eReport = {
    quick,
    date: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      kernel: os.release(),
      node: process.version,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
      dovecot23: dovecotVersion('2.3'),
      dovecot24: have24 ? dovecotVersion('2.4') : 'missing',
    },
    parameters: {
      users: USERS.length,
      singles: SINGLES,
      bursts: BURSTS,
      burstSize: USERS.length * 5,
      otherReps: OTHER_REPS,
      rates: RATES,
      stepSeconds: STEP_SECONDS,
      limitMs: LIMIT_MS,
    },
    results,
    skipped,
  };
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeReport(report, resultsDir, path.join(benchDir, '..', 'docs'));
  if (results.length === 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
