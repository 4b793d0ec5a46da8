/**
 * The background verifier at scale: the built `dovewarden` ingest, worker and verifier (its own
 * role) as separate processes against the machine's Redis and two stand-in Doveadm APIs
 * (FakeDoveadm: A, and B through DOVEWARDEN_REPLICA_DOVEADM_URL), each listing N users with one
 * INBOX of three messages, all of them synced already. For each size it measures, in one run:
 *
 * - the live-event latency (POST to ingest → the sync's answer on A) with no walk (idle), then
 *   during a walk, and the difference between the two;
 * - the walk's pace at its budget (DOVEWARDEN_VERIFY_CALLS_PER_SECOND), and so the time a full
 *   walk over N users takes at that budget;
 * - Redis memory of the verifier's bookkeeping (every key it writes: MEMORY USAGE), and Redis
 *   growth over the window.
 *
 * node dist/verifier.bench.js [--quick]   (quick: 100,000 users; full: 100,000 and 1,000,000)
 * Writes bench/results/verifier.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { StateKeys } from '@dovewarden/shared';
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
const PHASE_MS = quick ? 15_000 : 25_000;
const BUDGET = 100;
const SYNC_MS = 5;
const LIVE_EVERY_MS = 250;
const PASSWORD = 'bench-verifier';

interface Row {
  users: number;
  budget: number;
  verifiedPerSecond: number;
  fullWalkHours: number;
  bookkeepingKiB: number;
  redisGrowthMiB: number;
  idleP50Ms: number;
  walkP50Ms: number;
  idleP99Ms: number;
  walkP99Ms: number;
  liveMissed: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  const text = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(text)?.[1] ?? 0);
}

/** Users the verifier compared, by result (`equal`, `error`, …), from its metrics. */
async function verified(port: number): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const match = /^dovewarden_verify_users_total\{result="([^"]+)"\} (\S+)$/.exec(line);
      if (match !== null) counts[match[1] ?? ''] = Number(match[2]);
    }
    return counts;
  } catch {
    return {};
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

/** Posts a live event every LIVE_EVERY_MS for `ms`; the latency of each (post to A's answer). */
async function liveLatencies(
  ingestPort: number,
  a: FakeDoveadm,
  prefix: string,
  ms: number,
): Promise<{ latencies: number[]; missed: number }> {
  const posted: { user: string; at: number }[] = [];
  let n = 0;
  const poster = setInterval(() => {
    const user = `${prefix}${n++}@example.com`;
    posted.push({ user, at: performance.now() });
    void fetch(`http://127.0.0.1:${ingestPort}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: liveEvent(user),
    }).catch(() => undefined);
  }, LIVE_EVERY_MS);
  await sleep(ms);
  clearInterval(poster);
  await sleep(1000);
  const latencies: number[] = [];
  let missed = 0;
  for (const { user, at } of posted) {
    const answered = a.syncsFor(user).find((call) => !Number.isNaN(call.endedAt));
    if (answered === undefined) missed += 1;
    else latencies.push(answered.endedAt - at);
  }
  return { latencies, missed };
}

async function run(size: number): Promise<Row> {
  const namespace = uniqueNamespace('bench-verify');
  const users = Array.from({ length: size }, (_, i) => `user${i}@example.com`);
  const a = await FakeDoveadm.start({ password: PASSWORD, users, latencyMs: SYNC_MS });
  const b = await FakeDoveadm.start({ password: PASSWORD, users });
  const redis = new Redis({ host: SHARED_REDIS.host, port: SHARED_REDIS.port });
  const keys = new StateKeys(namespace);
  // Every user synced once already: the verifier only reads users B has a home for.
  for (let i = 0; i < users.length; i += 10_000) {
    const args: (string | number)[] = [];
    for (const user of users.slice(i, i + 10_000)) args.push(1, user);
    await redis.zadd(keys.lastSuccess, ...args);
  }
  const [ingestPort, ingestOps, workerOps, verifierOps] = await freePorts(4);
  const env = {
    ...dovewardenEnv(namespace),
    DOVEWARDEN_DOVEADM_URL: a.url,
    DOVEWARDEN_DOVEADM_PASSWORD: PASSWORD,
    DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:12345',
    DOVEWARDEN_REPLICA_DOVEADM_URL: b.url,
    DOVEWARDEN_FULL_SYNC_INTERVAL: '0',
    DOVEWARDEN_VERIFY_CALLS_PER_SECOND: String(BUDGET),
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
  try {
    const ingest = start('ingest', ingestOps, { DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${ingestPort}` });
    const worker = start('worker', workerOps);
    await ingest.waitUntilReady();
    await worker.waitUntilReady();
    const idle = await liveLatencies(ingestPort, a, 'idle', PHASE_MS);

    const memoryBefore = await usedMemory(redis);
    const verifier = start('verifier', verifierOps);
    await verifier.waitUntilReady();
    const began = performance.now();
    const before = (await verified(verifierOps))['equal'] ?? 0;
    const walking = await liveLatencies(ingestPort, a, 'walking', PHASE_MS);
    const results = await verified(verifierOps);
    // Only users compared and found equal count: a read that failed is no verification.
    const done = (results['equal'] ?? 0) - before;
    console.error(`[verifier] results: ${JSON.stringify(results)}`);
    const seconds = (performance.now() - began) / 1000;
    // Every key the verifier writes: its ledger's, whatever size the digests were given.
    let bookkeeping = 0;
    for (const key of await redis.keys(`${namespace}:verify:*`)) {
      bookkeeping += (await redis.memory('USAGE', key)) ?? 0;
    }
    const perSecond = done / seconds;
    const row: Row = {
      users: size,
      budget: BUDGET,
      verifiedPerSecond: Math.round(perSecond),
      fullWalkHours: Math.round((size / Math.max(1, perSecond) / 3600) * 100) / 100,
      bookkeepingKiB: Math.round((bookkeeping / 1024) * 10) / 10,
      redisGrowthMiB: Math.round((((await usedMemory(redis)) - memoryBefore) / 1048576) * 10) / 10,
      idleP50Ms: Math.round(percentile(idle.latencies, 50)),
      walkP50Ms: Math.round(percentile(walking.latencies, 50)),
      idleP99Ms: Math.round(percentile(idle.latencies, 99)),
      walkP99Ms: Math.round(percentile(walking.latencies, 99)),
      liveMissed: idle.missed + walking.missed,
    };
    console.error(`[verifier] ${size} users: ${JSON.stringify(row)}`);
    return row;
  } finally {
    await Promise.all(processes.map((proc) => proc.stop()));
    await a.stop();
    await b.stop();
    await redis.quit();
    await deleteNamespace(SHARED_REDIS, namespace);
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const size of SIZES) rows.push(await run(size));
  console.log(
    `\nverifier benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} CPUs, ${process.version}; budget ${BUDGET} calls/s on A and on B, ${PHASE_MS / 1000} s per phase)`,
  );
  console.log(
    '| users | verified/s | full walk at this budget | verifier bookkeeping in Redis | Redis growth | live event p50 idle / walking (diff) | p99 idle / walking | missed |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.users} | ${r.verifiedPerSecond} | ${r.fullWalkHours} h | ${r.bookkeepingKiB} KiB | ${r.redisGrowthMiB} MiB | ${r.idleP50Ms} / ${r.walkP50Ms} ms (${r.walkP50Ms - r.idleP50Ms} ms) | ${r.idleP99Ms} / ${r.walkP99Ms} ms | ${r.liveMissed} |`,
    );
  }
  const outDir = path.join(__dirname, '..', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    path.join(outDir, 'verifier.json'),
    `${JSON.stringify({ quick, phaseMs: PHASE_MS, budget: BUDGET, rows }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
