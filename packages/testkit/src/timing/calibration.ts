import { spawn, spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { Queue, Worker } from 'bullmq';
import { cliPath } from '../process/dovewarden-process';
import { SHARED_REDIS, deleteNamespace, uniqueNamespace } from '../redis/test-redis';
import { sleep } from './sleep';

/**
 * Time bounds relative to this machine, now.
 *
 * A test that says "this took under 2 s" is a claim about a machine: on a slow or busy one it
 * turns red although nothing regressed. So every timed bound in the tests is a multiple of a
 * reference operation of the same kind, measured in the same run on the same machine (a node
 * process start, a BullMQ job round trip, a Doveadm API call on the real Dovecot A). A slow
 * machine then gets longer bounds, and a real regression (a lost event waiting for an hourly
 * sweep, a 10x slowdown) still fails. Each reference is measured once per test process (jest
 * runs each test file in its own registry, so once per file) and printed once with what it
 * measured, so a failing bound says what it was relative to.
 */
export interface Reference {
  readonly name: string;
  /** Median of the samples in ms, never below 1 ms (timer granularity). */
  readonly ms: number;
  readonly samples: readonly number[];
}

export interface Bound {
  readonly ms: number;
  /** e.g. "9,840 ms (120 × doveadm API call on A, median 82 ms)". */
  readonly why: string;
}

const references = new Map<string, Promise<Reference>>();

/** One line on stderr, written straight to the file descriptor, outside jest's console capture. */
export function report(line: string): void {
  writeSync(2, line);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Measures `op` (warmup runs first, then `samples` timed runs) and returns the median, once per
 * name in this process: later calls with the same name reuse the first measurement.
 */
export function calibrate(
  name: string,
  op: () => Promise<unknown>,
  options: { samples?: number; warmup?: number } = {},
): Promise<Reference> {
  const known = references.get(name);
  if (known !== undefined) return known;
  const measured = (async (): Promise<Reference> => {
    for (let i = 0; i < (options.warmup ?? 1); i += 1) await op();
    const samples: number[] = [];
    for (let i = 0; i < (options.samples ?? 5); i += 1) {
      const started = performance.now();
      await op();
      samples.push(performance.now() - started);
    }
    const reference = { name, ms: Math.max(1, median(samples)), samples };
    report(
      `calibration: ${name} = ${reference.ms.toFixed(1)} ms (median of ${samples
        .map((s) => s.toFixed(1))
        .join(', ')})\n`,
    );
    return reference;
  })();
  references.set(name, measured);
  // A failed measurement is not cached: the next caller measures again and sees the error.
  measured.catch(() => references.delete(name));
  return measured;
}

/** A bare number of ms, for callers that still pass one (it says so in failure messages). */
export function asBound(bound: Bound | number): Bound {
  return typeof bound === 'number' ? { ms: bound, why: `${bound} ms (a fixed bound)` } : bound;
}

/** `multiple` times the reference, rounded up to whole ms. */
export function relativeBound(reference: Reference, multiple: number): Bound {
  const ms = Math.ceil(reference.ms * multiple);
  return {
    ms,
    why: `${ms} ms (${multiple} × ${reference.name}, median ${reference.ms.toFixed(1)} ms)`,
  };
}

/**
 * A bound for something that runs a fixed, configured time (a retry delay, a lock duration, a
 * shutdown timeout) plus work whose speed depends on the machine: the configured part stays as
 * configured, the rest is a multiple of the reference.
 */
export function configuredPlus(
  configuredMs: number,
  reference: Reference,
  multiple: number,
): Bound {
  const slack = relativeBound(reference, multiple);
  return {
    ms: configuredMs + slack.ms,
    why: `${configuredMs + slack.ms} ms (configured ${configuredMs} ms + ${slack.why})`,
  };
}

/** Throws with the bound's explanation when `elapsedMs` exceeds it. */
export function expectWithin(elapsedMs: number, bound: Bound, what: string): void {
  if (elapsedMs >= bound.ms)
    throw new Error(`${what} took ${Math.round(elapsedMs)} ms, over the bound of ${bound.why}`);
}

/**
 * The one poller of the tests: checks `check` (sync or async) every `intervalMs` until it holds
 * and returns how long that took; past the bound it fails and says what it waited for and what
 * the bound was. `what` may be a function, for a description read at the time of the failure
 * (e.g. a transcript so far). A fixed number of ms goes through asBound, which says so.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  bound: Bound,
  what: string | (() => string),
  intervalMs = 25,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > bound.ms) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out waiting for ${described}: bound ${bound.why}`);
    }
    await sleep(intervalMs);
  }
}

let processStart: Reference | undefined;

/**
 * A bare node process start to its exit (`node -e ''`), measured synchronously, so that it can
 * size what must be fixed when a test is defined: jest timeouts, spawnSync timeouts. It is the
 * reference for hang guards, which only have to outlast a slow machine.
 */
export function processStartReferenceSync(): Reference {
  if (processStart !== undefined) return processStart;
  const run = (): number => {
    const started = performance.now();
    const result = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
    if (result.status !== 0) throw new Error(`node -e '' exited ${String(result.status)}`);
    return performance.now() - started;
  };
  run();
  const samples = [run(), run(), run()];
  processStart = {
    name: "node process start (node -e '')",
    ms: Math.max(1, median(samples)),
    samples,
  };
  report(
    `calibration: ${processStart.name} = ${processStart.ms.toFixed(1)} ms (median of ${samples
      .map((s) => s.toFixed(1))
      .join(', ')})\n`,
  );
  return processStart;
}

/**
 * A hang guard: `multiple` bare node process starts. For timeouts that only stop a hung test
 * (jest's per-test timeout, a spawnSync timeout), never for a claim about speed.
 */
export function hangGuard(multiple: number): Bound {
  return relativeBound(processStartReferenceSync(), multiple);
}

function runToExit(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`)),
    );
  });
}

/**
 * A start of the built `dovewarden` command to its exit (`--version`: node plus the CLI's
 * module graph). The reference for anything that waits for a dovewarden process to be ready.
 */
export function nodeStartReference(): Promise<Reference> {
  return calibrate(
    'dovewarden process start (node main.js --version)',
    () => runToExit(process.execPath, [cliPath(), '--version']),
    { samples: 3 },
  );
}

/**
 * One BullMQ job from add to completed through an in-process worker on the machine's Redis.
 * The reference for waits on queue state (a job moved, retried, completed) by worker processes.
 */
export function queueRoundTripReference(): Promise<Reference> {
  queueRoundTrip ??= measureQueueRoundTrip();
  // A failed measurement is not kept: the next caller measures again and sees the error.
  queueRoundTrip.catch(() => (queueRoundTrip = undefined));
  return queueRoundTrip;
}
let queueRoundTrip: Promise<Reference> | undefined;

async function measureQueueRoundTrip(): Promise<Reference> {
  const namespace = uniqueNamespace('calibration');
  const connection = { host: SHARED_REDIS.host, port: SHARED_REDIS.port };
  const queue = new Queue('calibration', { connection, prefix: namespace });
  const waiting = new Map<string, () => void>();
  const worker = new Worker('calibration', () => Promise.resolve(), {
    connection,
    prefix: namespace,
  });
  worker.on('completed', (job) => waiting.get(job.id ?? '')?.());
  let next = 0;
  const op = async (): Promise<void> => {
    const id = `ref-${(next += 1)}`;
    const done = new Promise<void>((resolve) => waiting.set(id, resolve));
    await queue.add('noop', {}, { jobId: id });
    await done;
  };
  try {
    await worker.waitUntilReady();
    return await calibrate('BullMQ job round trip (add to completed)', op, {
      samples: 7,
      warmup: 2,
    });
  } finally {
    await worker.close();
    await queue.close();
    await deleteNamespace(SHARED_REDIS, namespace);
  }
}

/** What doveadmReference needs of a Dovecot server. */
export interface DoveadmEndpoint {
  readonly version: string;
  readonly doveadmHttpUrl: string;
  readonly doveadmPassword: string;
}

/** Convergence of one change from A to B: 300 Doveadm API calls on A (a few hundred ms is usual). */
export async function convergenceBound(a: DoveadmEndpoint, user: string): Promise<Bound> {
  return relativeBound(await doveadmReference(a, user), CONVERGENCE_MULTIPLE);
}
export const CONVERGENCE_MULTIPLE = 300;

/**
 * One call of Dovecot's Doveadm HTTP API on `server`, the path every dsync takes: a user lookup
 * (`user`), which touches no mailbox, so measuring it changes nothing the test looks at.
 * The reference for waits on Dovecot (convergence, a dsync run, a server coming back).
 */
export function doveadmReference(server: DoveadmEndpoint, user: string): Promise<Reference> {
  const authorization = `Basic ${Buffer.from(`doveadm:${server.doveadmPassword}`).toString('base64')}`;
  return calibrate(
    `Doveadm API call on Dovecot ${server.version}`,
    async () => {
      const response = await fetch(`${server.doveadmHttpUrl}/doveadm/v1`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify([['user', { userMask: [user] }, 'calibration']]),
      });
      const body = await response.text();
      if (response.status !== 200 || !body.includes('doveadmResponse'))
        throw new Error(`doveadm user ${user} answered ${response.status}: ${body.slice(0, 200)}`);
    },
    { samples: 5, warmup: 2 },
  );
}
