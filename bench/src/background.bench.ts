/**
 * Background replication at scale: the built `dovewarden` ingest, worker and scheduler as
 * separate processes against the machine's Redis and a stand-in Doveadm API (FakeDoveadm) that
 * lists N users, none of them synced yet, and answers each sync after 5 ms. For each size it
 * runs the first sweep twice in the same run: unpaced (DOVEWARDEN_BACKGROUND_REPLICATION_MAX_PENDING
 * =0, every stale user queued at once, as before the paced feeder) and paced (the default), and
 * measures over the same window: Redis memory growth (peak), the scheduler's peak RSS, syncs a
 * second against what the sync slots allow, the sweep's progress, and the latency of live
 * events posted to ingest meanwhile (POST to the sync's answer).
 *
 * node dist/background.bench.js [--quick]   (quick: 100,000 users; full: 100,000 and 1,000,000)
 * Writes bench/results/background.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  DovewardenProcess,
  FakeDoveadm,
  SHARED_REDIS,
  deleteNamespace,
  dovewardenEnv,
  freePorts,
  sleep,
  uniqueNamespace,
} from '@dovewarden/testkit';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [100_000] : [100_000, 1_000_000];
const WINDOW_MS = quick ? 25_000 : 40_000;
const SYNC_MS = 5;
const SLOTS = 4;
const LIVE_EVERY_MS = 500;
const PASSWORD = 'bench-background';

interface Row {
  users: number;
  mode: 'unpaced' | 'paced';
  redisPeakMiB: number;
  schedulerPeakRssMiB: number;
  syncsPerSecond: number;
  /** How long the stand-in took per sync call, as it measured it (request to answer). */
  callMs: number;
  /** Syncs a second the slots allow at SYNC_MS a sync. */
  slotsAllow: number;
  sweepPassed: number;
  liveP50Ms: number;
  liveMaxMs: number;
  liveMissed: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const text = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(text)?.[1] ?? 0);
}

function rssOf(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return 0;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

async function metric(port: number, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function liveEvent(user: string): string {
  return JSON.stringify({
    event: 'imap_command_finished',
    end_time: new Date().toISOString(),
    fields: { user, cmd_name: 'APPEND', tagged_reply_state: 'OK' },
  });
}

async function run(size: number, mode: Row['mode']): Promise<Row> {
  const namespace = uniqueNamespace('bench-bg');
  const users = Array.from({ length: size }, (_, i) => `user${i}@example.com`);
  const fake = await FakeDoveadm.start({ password: PASSWORD, users, latencyMs: SYNC_MS });
  const redis = new Redis({ host: SHARED_REDIS.host, port: SHARED_REDIS.port });
  const [ingestPort, ingestOps, workerOps, schedulerOps] = await freePorts(4);
  const env = {
    ...dovewardenEnv(namespace),
    DOVEWARDEN_DOVEADM_URL: fake.url,
    DOVEWARDEN_DOVEADM_PASSWORD: PASSWORD,
    DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:12345',
    DOVEWARDEN_NUM_WORKERS: String(SLOTS),
    DOVEWARDEN_MAX_PARALLEL_SYNCS: '10',
    DOVEWARDEN_FULL_SYNC_INTERVAL: '0',
    DOVEWARDEN_BACKGROUND_REPLICATION_INTERVAL: '24h',
    DOVEWARDEN_BACKGROUND_REPLICATION_MAX_PENDING: mode === 'unpaced' ? '0' : 'auto',
    DOVEWARDEN_LOG_LEVEL: 'warn',
  };
  const processes: DovewardenProcess[] = [];
  const start = (role: string, opsPort: number, extra: Record<string, string> = {}) => {
    const proc = DovewardenProcess.start({
      args: [role],
      env: { ...env, DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`, ...extra },
      metricsPort: opsPort,
    });
    processes.push(proc);
    return proc;
  };
  const memoryBefore = await usedMemory(redis);
  let redisPeak = memoryBefore;
  const latencies: number[] = [];
  let liveMissed = 0;
  try {
    const ingest = start('ingest', ingestOps, { DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}` });
    const worker = start('worker', workerOps);
    await ingest.waitUntilReady();
    await worker.waitUntilReady();
    const scheduler = start('scheduler', schedulerOps);
    await scheduler.waitUntilReady();
    const began = performance.now();
    let syncsAtTen = 0;
    let tenAt = began;
    const sampler = setInterval(() => {
      void usedMemory(redis).then((used) => {
        redisPeak = Math.max(redisPeak, used);
      });
    }, 250);
    const pending: { user: string; postedAt: number }[] = [];
    let live = 0;
    const poster = setInterval(() => {
      const user = `live${live++}@example.com`;
      const postedAt = performance.now();
      pending.push({ user, postedAt });
      void fetch(`http://127.0.0.1:${ingestPort}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: liveEvent(user),
      }).catch(() => undefined);
    }, LIVE_EVERY_MS);
    await sleep(10_000);
    syncsAtTen = fake.syncCalls().length;
    tenAt = performance.now();
    await sleep(WINDOW_MS - 10_000);
    clearInterval(poster);
    // Live events still in flight get a last second to be synced.
    await sleep(1000);
    clearInterval(sampler);
    const windowCalls = fake.syncCalls().slice(syncsAtTen);
    const syncs = windowCalls.length;
    const answered = windowCalls.filter((call) => !Number.isNaN(call.endedAt));
    const callMs =
      answered.reduce((sum, call) => sum + (call.endedAt - call.startedAt), 0) /
      Math.max(1, answered.length);
    const seconds = (performance.now() - tenAt) / 1000;
    for (const { user, postedAt } of pending) {
      const answered = fake.syncsFor(user).find((call) => !Number.isNaN(call.endedAt));
      if (answered === undefined) liveMissed += 1;
      else latencies.push(answered.endedAt - postedAt);
    }
    const passed =
      (await metric(schedulerOps, 'dovewarden_sweep_users_listed')) -
      (await metric(schedulerOps, 'dovewarden_sweep_users_remaining'));
    const row: Row = {
      users: size,
      mode,
      redisPeakMiB: Math.round(((redisPeak - memoryBefore) / 1048576) * 10) / 10,
      schedulerPeakRssMiB: Math.round(rssOf(scheduler.pid, 'VmHWM') / 1048576),
      syncsPerSecond: Math.round(syncs / seconds),
      callMs: Math.round(callMs * 100) / 100,
      slotsAllow: Math.round((SLOTS * 1000) / SYNC_MS),
      sweepPassed: mode === 'paced' ? passed : Number.NaN,
      liveP50Ms: Math.round(percentile(latencies, 50)),
      liveMaxMs: Math.round(Math.max(...latencies)),
      liveMissed,
    };
    console.error(
      `[background] ${size} users, ${mode}: ${JSON.stringify(row)} (${Math.round((performance.now() - began) / 1000)} s)`,
    );
    return row;
  } finally {
    await Promise.all(processes.map((proc) => proc.stop()));
    await fake.stop();
    await redis.quit();
    await deleteNamespace(SHARED_REDIS, namespace);
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const size of SIZES) {
    rows.push(await run(size, 'unpaced'));
    rows.push(await run(size, 'paced'));
  }
  console.log(
    `\nbackground replication benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} CPUs, ${process.version}; ${SLOTS} sync slots, ${SYNC_MS} ms a sync, ${WINDOW_MS / 1000} s window)`,
  );
  console.log(
    '| users | sweep | Redis growth MiB | scheduler peak RSS MiB | syncs/s (of slots) | users passed | live event p50 / max ms (missed) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.users} | ${r.mode} | ${r.redisPeakMiB} | ${r.schedulerPeakRssMiB} | ${r.syncsPerSecond} (${Math.round((100 * r.syncsPerSecond) / r.slotsAllow)} % of ${r.slotsAllow}) | ${Number.isNaN(r.sweepPassed) ? '-' : r.sweepPassed} | ${r.liveP50Ms} / ${r.liveMaxMs} (${r.liveMissed}) |`,
    );
  }
  for (const size of SIZES) {
    const unpaced = rows.find((r) => r.users === size && r.mode === 'unpaced');
    const paced = rows.find((r) => r.users === size && r.mode === 'paced');
    if (unpaced === undefined || paced === undefined) continue;
    console.log(
      `${size} users, paced against unpaced in this run: Redis growth x${(paced.redisPeakMiB / Math.max(0.1, unpaced.redisPeakMiB)).toFixed(3)}, scheduler RSS x${(paced.schedulerPeakRssMiB / Math.max(1, unpaced.schedulerPeakRssMiB)).toFixed(2)}, syncs/s x${(paced.syncsPerSecond / Math.max(1, unpaced.syncsPerSecond)).toFixed(2)}`,
    );
  }
  const outDir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    path.join(outDir, 'background.json'),
    `${JSON.stringify({ quick, windowMs: WINDOW_MS, rows }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
