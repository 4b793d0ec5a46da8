/**
 * Sustained events per second and latency of POST /events on one real ingest process, with
 * real Dovecot events queued in the real Redis (127.0.0.1:6379, under a throwaway namespace),
 * next to a baseline measured in the same run: a bare node:http server that parses the JSON and
 * answers 204 (baseline-server.ts). Both run as child processes and take the same load.
 *
 * 1. Closed loop, fixed concurrency: the maximum rate of each.
 * 2. Open loop at half of ingest's maximum: p50/p99, scheduled-time to answer.
 * 3. A long run (1,000,000 events; --quick: 100,000): ingest's RSS along the way.
 *
 * Usage: npm run bench:ingest -w @dovewarden/bench [-- --quick]
 * Writes bench/results/ingest.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DovewardenProcess,
  SHARED_REDIS,
  deleteNamespace,
  freePorts,
  sleep,
  uniqueNamespace,
  dovewardenEnv,
} from '@dovewarden/testkit';

const quick = process.argv.includes('--quick');
const CONCURRENCY = 32;
/** Distinct users the events are spread over (BENCH_USERS to change it). */
const USERS = Number(process.env.BENCH_USERS ?? 5000);
const CLOSED_LOOP_MS = quick ? 5000 : 15_000;
const OPEN_LOOP_MS = quick ? 5000 : 15_000;
const LONG_RUN_EVENTS = quick ? 100_000 : 1_000_000;

/** Real events as Dovecot 2.4 sends them, spread over many users. */
const TEMPLATE = JSON.parse(
  fs
    .readFileSync(
      path.join(__dirname, '..', '..', 'fixtures', 'events', 'dovecot-2.4.1.jsonl'),
      'utf8',
    )
    .split('\n')[0] ?? '{}',
) as { fields: Record<string, unknown> };
const BODIES = Array.from({ length: USERS }, (_, i) =>
  JSON.stringify({
    ...TEMPLATE,
    end_time: new Date().toISOString(),
    fields: { ...TEMPLATE.fields, user: `bench${i}@example.com` },
  }),
);

interface Target {
  name: string;
  port: number;
  pid: number;
}

function post(agent: Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/events',
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** As many requests as CONCURRENCY connections can carry, for durationMs. */
async function closedLoop(
  target: Target,
  durationMs: number,
): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const body = BODIES[next++ % BODIES.length];
        const sent = performance.now();
        const status = await post(agent, target.port, body);
        latencies.push(performance.now() - sent);
        if (status !== 202 && status !== 204) errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rate: Math.round(latencies.length / elapsed),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

/**
 * Requests sent on a fixed schedule whatever the answers do; latency counts from the scheduled
 * time, so a stall shows up in the tail instead of silently slowing the load (coordinated omission).
 */
async function openLoop(
  target: Target,
  rate: number,
  durationMs: number,
): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  let errors = 0;
  const started = performance.now();
  const total = Math.floor((rate * durationMs) / 1000);
  for (let i = 0; i < total; i += 1) {
    const scheduled = started + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(
      post(agent, target.port, BODIES[i % BODIES.length]).then(
        (status) => {
          // A request sent a hair early (timer granularity) counts as zero, not negative.
          latencies.push(Math.max(0, performance.now() - scheduled));
          if (status !== 202 && status !== 204) errors += 1;
        },
        () => {
          errors += 1;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

async function longRun(
  target: Target,
  events: number,
): Promise<{ events: number; rssMiB: number[]; seconds: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const samples: number[] = [rssMiB(target.pid)];
  const step = Math.floor(events / 10);
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < events) {
        const index = sent++;
        await post(agent, target.port, BODIES[index % BODIES.length]);
        if ((index + 1) % step === 0) samples.push(rssMiB(target.pid));
      }
    }),
  );
  agent.destroy();
  return { events, rssMiB: samples, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

async function startBaseline(): Promise<{ target: Target; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, 'baseline-server.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', () => reject(new Error('baseline server exited')));
  });
  return { target: { name: 'baseline (node:http, parse, 204)', port, pid: child.pid ?? 0 }, child };
}

async function main(): Promise<void> {
  const namespace = uniqueNamespace('bench-ingest');
  const [httpPort, opsPort] = await freePorts(2);
  const ingest = DovewardenProcess.start({
    args: ['ingest'],
    env: {
      ...dovewardenEnv(namespace),
      DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${opsPort}`,
      DOVEWARDEN_LOG_LEVEL: 'warn',
    },
    metricsPort: opsPort,
  });
  const baseline = await startBaseline();
  try {
    await ingest.waitUntilReady();
    const target: Target = {
      name: 'ingest (queues in Redis, 202)',
      port: httpPort,
      pid: ingest.pid ?? 0,
    };

    // Warm both up (JIT, connections, the users' first jobs) before measuring.
    await closedLoop(target, 2000);
    await closedLoop(baseline.target, 2000);
    const baseMax = await closedLoop(baseline.target, CLOSED_LOOP_MS);
    const ingestMax = await closedLoop(target, CLOSED_LOOP_MS);
    const half = Math.max(1, Math.floor(ingestMax.rate / 2));
    const ingestHalf = await openLoop(target, half, OPEN_LOOP_MS);
    const baseHalf = await openLoop(baseline.target, half, OPEN_LOOP_MS);
    const memory = await longRun(target, LONG_RUN_EVENTS);

    const result = {
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
      },
      quick,
      concurrency: CONCURRENCY,
      users: USERS,
      max: {
        ingest: ingestMax,
        baseline: baseMax,
        throughputRatio: Math.round((ingestMax.rate / baseMax.rate) * 100) / 100,
      },
      halfRate: { rate: half, ingest: ingestHalf, baseline: baseHalf },
      memory,
    };
    const ms = (value: number): string => value.toFixed(2);
    console.log(
      `\ningest benchmark (${quick ? 'quick' : 'full'}; ${os.cpus().length} CPUs, ${process.version})`,
    );
    console.log('| run | target | events/s | p50 ms | p99 ms | errors |');
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| max (closed loop, ${CONCURRENCY} conns) | ${baseline.target.name} | ${baseMax.rate} | ${ms(baseMax.p50)} | ${ms(baseMax.p99)} | ${baseMax.errors} |`,
    );
    console.log(
      `| max (closed loop, ${CONCURRENCY} conns) | ${target.name} | ${ingestMax.rate} | ${ms(ingestMax.p50)} | ${ms(ingestMax.p99)} | ${ingestMax.errors} |`,
    );
    console.log(
      `| half of ingest max (open loop) | ${baseline.target.name} | ${half} | ${ms(baseHalf.p50)} | ${ms(baseHalf.p99)} | ${baseHalf.errors} |`,
    );
    console.log(
      `| half of ingest max (open loop) | ${target.name} | ${half} | ${ms(ingestHalf.p50)} | ${ms(ingestHalf.p99)} | ${ingestHalf.errors} |`,
    );
    console.log(
      `\nthroughput ratio ingest/baseline: ${result.max.throughputRatio} (target >= 0.6)`,
    );
    console.log(`ingest p99 at half its max rate: ${ms(ingestHalf.p99)} ms (target < 10 ms)`);
    console.log(
      `ingest RSS over ${memory.events} events (MiB, every 10%): ${memory.rssMiB.join(' ')} in ${memory.seconds} s`,
    );
    const outDir = path.join(__dirname, '..', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'ingest.json'), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    baseline.child.kill('SIGTERM');
    await ingest.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
