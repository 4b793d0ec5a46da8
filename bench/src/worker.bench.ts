/**
 * The worker against a fake doveadm (FakeDoveadm from the testkit, in this process) with real
 * `dovewarden worker` child processes and real Redis (127.0.0.1:6379, throwaway namespaces).
 * Jobs come from the real producer class, SyncQueue, as ingest queues them.
 *
 * 1. Throughput at 0 ms doveadm latency: 1 process, NUM_WORKERS 16, MAX_PARALLEL_SYNCS 1000,
 *    incremental syncs (FULL_SYNC_INTERVAL 0, see WorkerSettings);
 *    20,000 distinct users (--quick: 5,000) queued first, then the worker is started. Rate =
 *    users / (last sync's end - first sync's start), both as the fake saw them.
 * 2. Coalescing: at 200 ms latency, while a user's sync runs, 1,000 enqueues for that user at
 *    once. Syncs of that user from the running one on: at most 2 expected, and the last one
 *    must start after the burst ended (no change left behind).
 * 3. Replication lag at 100 ms latency, 4 processes, changes at 50 and 500 users/s for 10 s
 *    each (--quick: 3 s). Lag of a change = end of the first sync of that user that started
 *    after the change, minus the change time (when enqueue was called).
 *
 * Every phase also counts overlapping syncs of one user, which the worker promises never to
 * send. Usage: npm run bench:worker -w @dovewarden/bench [-- --quick]
 * Writes bench/results/worker.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SyncPriority, SyncQueue, createRedis } from '@dovewarden/shared';
import {
  DovewardenProcess,
  FakeDoveadm,
  type FakeDoveadmCall,
  SHARED_REDIS,
  deleteNamespace,
  freePorts,
  sleep,
  uniqueNamespace,
  dovewardenEnv,
} from '@dovewarden/testkit';

const quick = process.argv.includes('--quick');
const PASSWORD = 'bench-doveadm-password';
const THROUGHPUT_USERS = Number(process.env.BENCH_WORKER_USERS ?? (quick ? 5000 : 20_000));
const BURSTS = quick ? 3 : 10;
const BURST_SIZE = 1000;
const LAG_SECONDS = quick ? 3 : 10;
const LAG_RATES = [50, 500];
/** Users the lag run's changes are drawn from; large enough that most changes are distinct. */
const LAG_USER_POOL = 20_000;
/**
 * The lag run's global cap: Dovecot's doveadm service runs at most process_limit (default 100)
 * syncs at once, so a higher cap would only queue them inside Dovecot instead.
 */
const LAG_MAX_PARALLEL = Number(process.env.BENCH_LAG_MAX_PARALLEL ?? 100);
/** Enqueues in flight while filling the queue: enough to keep the connection busy. */
const FILL_CONCURRENCY = 64;

const benchStart = performance.now();
/** Progress on stderr: a full run takes minutes, and a stuck phase should show which. */
function progress(message: string): void {
  console.error(`[${((performance.now() - benchStart) / 1000).toFixed(1)} s] ${message}`);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const round = (value: number, digits = 1): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** CPU seconds a process has used so far (utime + stime), or NaN when it cannot be read. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces, start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function redisPid(phase: Phase): Promise<number | undefined> {
  const info = await phase.redisInfo();
  const match = /process_id:(\d+)/.exec(info);
  return match === null ? undefined : Number(match[1]);
}

interface WorkerSettings {
  processes: number;
  numWorkers: number;
  maxParallelSyncs: number;
  /**
   * Full syncs by age off. Every user here is synced for the first time, and a user's first
   * sync would be due a full sync, followed by the folder comparison with the replica, which
   * the stand-in does not have (a failed connection and a warning per job). The figure is the
   * worker's cost per incremental sync, what it runs day to day.
   */
  incrementalOnly?: boolean;
}

/** One phase's namespace, producer and worker processes, torn down together. */
class Phase {
  readonly namespace: string;
  readonly queue: SyncQueue;
  readonly workers: DovewardenProcess[] = [];
  readonly #redis: ReturnType<typeof createRedis>;

  private constructor(label: string) {
    this.namespace = uniqueNamespace(`bench-worker-${label}`);
    this.#redis = createRedis(SHARED_REDIS, 'fail-fast', 'bench');
    this.queue = new SyncQueue(this.#redis, this.namespace);
  }

  static async open(label: string): Promise<Phase> {
    const phase = new Phase(label);
    await phase.queue.waitUntilReady();
    return phase;
  }

  async startWorkers(fake: FakeDoveadm, settings: WorkerSettings): Promise<void> {
    const ports = await freePorts(settings.processes);
    for (const port of ports) {
      this.workers.push(
        DovewardenProcess.start({
          args: ['worker'],
          env: {
            ...dovewardenEnv(this.namespace),
            DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${port}`,
            DOVEWARDEN_DOVEADM_URL: fake.url,
            DOVEWARDEN_DOVEADM_PASSWORD: PASSWORD,
            DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:1',
            DOVEWARDEN_NUM_WORKERS: String(settings.numWorkers),
            DOVEWARDEN_MAX_PARALLEL_SYNCS: String(settings.maxParallelSyncs),
            DOVEWARDEN_LOG_LEVEL: 'warn',
            ...(settings.incrementalOnly === true ? { DOVEWARDEN_FULL_SYNC_INTERVAL: '0' } : {}),
          },
          metricsPort: port,
        }),
      );
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  redisInfo(): Promise<string> {
    return this.#redis.info('server');
  }

  enqueue(user: string): Promise<unknown> {
    return this.queue.enqueue(
      { user, reason: { kind: 'imap', command: 'APPEND' }, requestedAt: Date.now() },
      SyncPriority.Normal,
    );
  }

  /** What the workers said at warn level or above: shown when a phase looks wrong. */
  workerOutput(): string[] {
    return this.workers.flatMap((worker) => worker.output.slice(-5));
  }

  async close(): Promise<void> {
    progress(`${this.namespace}: stopping ${this.workers.length} worker(s)`);
    await Promise.all(this.workers.map((worker) => worker.stop()));
    progress(`${this.namespace}: workers stopped`);
    await this.queue.close();
    // BullMQ leaves a connection it was handed open, and an open one keeps node running.
    await this.#redis.quit();
    await deleteNamespace(SHARED_REDIS, this.namespace);
    progress(`${this.namespace}: namespace deleted`);
  }
}

/**
 * Waits until the fake has had nothing running and no new call for quietMs: the queue is
 * drained (no retries are expected, every answer is a success).
 */
async function settle(fake: FakeDoveadm, quietMs: number, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let seen = -1;
  let quietSince = performance.now();
  while (performance.now() < deadline) {
    if (fake.running > 0 || fake.calls.length !== seen) {
      seen = fake.calls.length;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= quietMs) {
      return;
    }
    await sleep(25);
  }
  throw new Error(`the fake doveadm did not settle within ${timeoutMs} ms`);
}

async function throughput(fake: FakeDoveadm): Promise<{
  users: number;
  seconds: number;
  syncsPerSecond: number;
  syncs: number;
  overlaps: number;
  startupMs: number;
  cpuPercent: { worker: number; redis: number; benchAndFake: number };
}> {
  fake.setLatency(0);
  fake.reset();
  const phase = await Phase.open('throughput');
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: FILL_CONCURRENCY }, async () => {
        while (next < THROUGHPUT_USERS) await phase.enqueue(`tp${next++}@example.com`);
      }),
    );
    progress(`throughput: ${THROUGHPUT_USERS} users queued`);
    const spawned = performance.now();
    const redis = await redisPid(phase);
    const cpuBefore = { bench: process.cpuUsage(), redis: cpuSeconds(redis) };
    await phase.startWorkers(fake, {
      processes: 1,
      numWorkers: 16,
      maxParallelSyncs: 1000,
      incrementalOnly: true,
    });
    try {
      await fake.waitUntil(
        () => fake.userCount >= THROUGHPUT_USERS && fake.running === 0,
        Math.max(120_000, THROUGHPUT_USERS * 5),
      );
    } catch (error) {
      console.error(phase.workerOutput().join('\n'));
      throw error;
    }
    const calls = fake.syncCalls();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const call of calls) {
      first = Math.min(first, call.startedAt);
      last = Math.max(last, call.endedAt);
    }
    const seconds = (last - first) / 1000;
    // Where the CPU went, from spawn to the last sync (start-up included): with all three on
    // one machine, the figure is only meaningful next to these.
    const wall = (performance.now() - spawned) / 1000;
    const benchCpu = process.cpuUsage(cpuBefore.bench);
    const cpuPercent = {
      worker: Math.round((cpuSeconds(phase.workers[0]?.pid) / wall) * 100),
      redis: Math.round(((cpuSeconds(redis) - cpuBefore.redis) / wall) * 100),
      benchAndFake: Math.round(((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100),
    };
    return {
      cpuPercent,
      users: THROUGHPUT_USERS,
      seconds: round(seconds, 2),
      syncsPerSecond: Math.round(THROUGHPUT_USERS / seconds),
      syncs: calls.length,
      overlaps: fake.overlaps().length,
      startupMs: Math.round(first - spawned),
    };
  } finally {
    await phase.close();
  }
}

interface BurstResult {
  user: string;
  syncs: number;
  burstMs: number;
  /** The last sync started after the burst's last enqueue was sent: nothing left behind. */
  covered: boolean;
}

async function coalescing(fake: FakeDoveadm): Promise<{
  latencyMs: number;
  bursts: BurstResult[];
  maxSyncsPerBurst: number;
  meanSyncsPerBurst: number;
  allCovered: boolean;
  overlaps: number;
}> {
  const latencyMs = 200;
  fake.setLatency(latencyMs);
  fake.reset();
  const phase = await Phase.open('coalescing');
  const bursts: BurstResult[] = [];
  try {
    // Two processes, so that coalescing and the one-sync-per-user promise hold across them.
    await phase.startWorkers(fake, { processes: 2, numWorkers: 16, maxParallelSyncs: 1000 });
    for (let i = 0; i < BURSTS; i += 1) {
      const user = `burst${i}@example.com`;
      progress(`coalescing: burst ${i + 1}/${BURSTS}`);
      await phase.enqueue(user);
      await fake.waitUntil(() => fake.callsFor(user).some((call) => call.running), 10_000);
      const burstStart = performance.now();
      await Promise.all(Array.from({ length: BURST_SIZE }, () => phase.enqueue(user)));
      const burstEnd = performance.now();
      await settle(fake, latencyMs * 3);
      const calls = fake.callsFor(user).filter((call) => call.command === 'sync');
      const lastStart = calls.at(-1)?.startedAt ?? Number.NaN;
      bursts.push({
        user,
        syncs: calls.length,
        burstMs: round(burstEnd - burstStart),
        covered: lastStart > burstEnd,
      });
    }
    const counts = bursts.map((burst) => burst.syncs);
    return {
      latencyMs,
      bursts,
      maxSyncsPerBurst: Math.max(...counts),
      meanSyncsPerBurst: round(counts.reduce((a, b) => a + b, 0) / counts.length, 2),
      allCovered: bursts.every((burst) => burst.covered),
      overlaps: fake.overlaps().length,
    };
  } finally {
    await phase.close();
  }
}

interface LagResult {
  rate: number;
  seconds: number;
  changes: number;
  syncs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Changes no sync started after: replication that never happened. */
  uncovered: number;
  overlaps: number;
}

/** End of the first sync of each change's user that started after the change. */
function lags(
  fake: FakeDoveadm,
  changes: readonly { user: string; at: number }[],
): { sorted: number[]; uncovered: number } {
  const values: number[] = [];
  let uncovered = 0;
  for (const change of changes) {
    let best: FakeDoveadmCall | undefined;
    for (const call of fake.callsFor(change.user)) {
      if (call.command !== 'sync' || call.startedAt <= change.at || call.running) continue;
      if (best === undefined || call.startedAt < best.startedAt) best = call;
    }
    if (best === undefined) uncovered += 1;
    else values.push(best.endedAt - change.at);
  }
  values.sort((a, b) => a - b);
  return { sorted: values, uncovered };
}

async function lag(fake: FakeDoveadm, rate: number): Promise<LagResult> {
  const latencyMs = 100;
  fake.setLatency(latencyMs);
  const phase = await Phase.open(`lag${rate}`);
  try {
    await phase.startWorkers(fake, {
      processes: 4,
      numWorkers: 16,
      maxParallelSyncs: LAG_MAX_PARALLEL,
      // As the throughput run: every change is a user's first sync here, and a first full sync
      // would go on to compare folders with a replica the stand-in does not have (each such
      // lookup failing slowly kept the workers from syncing at all at 500/s).
      incrementalOnly: true,
    });
    // Warm up (JIT, connections, Redis scripts) at the same rate, then start from a clean slate.
    progress(`lag at ${rate}/s: workers ready, warming up`);
    await openLoop(phase, rate, 1000, 'warm');
    await settle(fake, latencyMs * 3);
    fake.reset();

    const changes = await openLoop(phase, rate, LAG_SECONDS * 1000, 'lag');
    progress(`lag at ${rate}/s: changes sent, waiting for the syncs`);
    await settle(fake, latencyMs * 5, 120_000);
    const { sorted, uncovered } = lags(fake, changes);
    // Changes no sync followed are replication that never happened: say what the workers said.
    if (uncovered > 0)
      progress(
        `lag at ${rate}/s: ${uncovered} change(s) uncovered; workers said:\n${phase.workerOutput().join('\n')}`,
      );
    return {
      rate,
      seconds: LAG_SECONDS,
      changes: changes.length,
      syncs: fake.syncCalls().length,
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(sorted.at(-1) ?? Number.NaN),
      uncovered,
      overlaps: fake.overlaps().length,
    };
  } finally {
    await phase.close();
  }
}

/**
 * Changes on a fixed schedule whatever the worker does, each for a random user of the pool.
 * The change time is taken before enqueue() is called: the mailbox changed before its event
 * reached ingest, so the queueing itself counts towards the lag.
 */
async function openLoop(
  phase: Phase,
  rate: number,
  durationMs: number,
  prefix: string,
): Promise<{ user: string; at: number }[]> {
  const changes: { user: string; at: number }[] = [];
  const inFlight: Promise<unknown>[] = [];
  const started = performance.now();
  const total = Math.floor((rate * durationMs) / 1000);
  for (let i = 0; i < total; i += 1) {
    const scheduled = started + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await sleep(wait);
    const user = `${prefix}${Math.floor(Math.random() * LAG_USER_POOL)}@example.com`;
    changes.push({ user, at: performance.now() });
    inFlight.push(phase.enqueue(user));
  }
  await Promise.all(inFlight);
  return changes;
}

async function main(): Promise<void> {
  const fake = await FakeDoveadm.start({ password: PASSWORD });
  try {
    const tp = await throughput(fake);
    const co = await coalescing(fake);
    const lagRuns: LagResult[] = [];
    for (const rate of LAG_RATES) lagRuns.push(await lag(fake, rate));

    const result = {
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
      },
      quick,
      throughput: { processes: 1, numWorkers: 16, maxParallelSyncs: 1000, latencyMs: 0, ...tp },
      coalescing: { processes: 2, numWorkers: 16, burstSize: BURST_SIZE, ...co },
      lag: {
        processes: 4,
        numWorkers: 16,
        maxParallelSyncs: LAG_MAX_PARALLEL,
        latencyMs: 100,
        userPool: LAG_USER_POOL,
        runs: lagRuns,
      },
    };

    console.log(
      `\nworker benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} CPUs, ${process.version})`,
    );
    console.log('| run | setup | result | target | overlaps |');
    console.log('|---|---|---|---|---|');
    console.log(
      `| throughput | 1 process x 16, 0 ms doveadm, ${tp.users} users | ${tp.syncsPerSecond} syncs/s (${tp.syncs} syncs in ${tp.seconds} s) | >= 2000/s | ${tp.overlaps} |`,
    );
    console.log(
      `| coalescing | 2 processes x 16, 200 ms doveadm, ${BURST_SIZE} enqueues per burst, ${co.bursts.length} bursts | max ${co.maxSyncsPerBurst}, mean ${co.meanSyncsPerBurst} syncs per burst; last sync after burst: ${co.allCovered ? 'always' : 'NOT always'} | <= 2 | ${co.overlaps} |`,
    );
    for (const run of lagRuns) {
      console.log(
        `| lag at ${run.rate} changes/s | 4 processes x 16, cap ${LAG_MAX_PARALLEL}, 100 ms doveadm, ${run.seconds} s | p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, max ${run.maxMs} ms (${run.changes} changes, ${run.syncs} syncs, ${run.uncovered} uncovered) | - | ${run.overlaps} |`,
      );
    }
    console.log(
      `\nthroughput run CPU: worker ${tp.cpuPercent.worker}%, redis ${tp.cpuPercent.redis}%, bench + fake ${tp.cpuPercent.benchAndFake}% (of one core; ${os.cpus().length} cores)`,
    );
    console.log(
      `burst durations (ms): ${co.bursts.map((burst) => burst.burstMs).join(' ')}; worker start to first sync: ${tp.startupMs} ms`,
    );
    const outDir = path.join(__dirname, '..', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'worker.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await fake.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
