/**
 * How long a no-change incremental sync and a user listing take through DoveadmClient, next to
 * the same requests sent with a bare `fetch`, on a testkit Dovecot pair (2.4, and 2.3 if it is
 * installed). The baseline runs in the same process against the same servers, so the ratio shows
 * what the client itself costs rather than what this machine costs.
 *
 * Usage: npm run bench -w @dovewarden/bench [-- --quick] [-- --iterations=N]
 * Writes bench/results/doveadm-client.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DoveadmClient } from '@dovewarden/doveadm-client';
import {
  appendMessage,
  closeImap,
  compareMailboxes,
  connectImap,
  ensureDovecot23Sync,
  ensureDovecot24Sync,
  startDovecotPair,
  type DovecotPair,
  type DovecotVersion,
} from '@dovewarden/testkit';

const SYNC_USER = 'bench1';
/** A handful of users, so that the listing is not trivially a single line. */
const USERS = [SYNC_USER, ...Array.from({ length: 19 }, (_, i) => `user${i + 2}@example.com`)];
const MESSAGES = 5;
const WARMUP = 3;

interface Options {
  iterations: number;
  quick: boolean;
}

interface Stats {
  samples: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

interface Comparison {
  client: Stats;
  baseline: Stats;
  /** client / baseline, of the medians and of the p95s. */
  ratioMedian: number;
  ratioP95: number;
}

interface VersionResult {
  version: DovecotVersion;
  sync: Comparison;
  listUsers: Comparison;
}

interface Skipped {
  version: DovecotVersion;
  skipped: string;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes('--quick');
  const explicit = argv.find((arg) => arg.startsWith('--iterations='));
  const iterations = explicit === undefined ? (quick ? 15 : 50) : Number(explicit.split('=')[1]);
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new Error(`--iterations must be a positive whole number, got ${explicit ?? ''}`);
  }
  return { iterations, quick };
}

/** Nearest-rank percentile: with few samples an interpolated p95 would invent a value. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

function statsOf(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] ?? Number.NaN)
      : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
  return {
    samples: sorted.length,
    medianMs: round(median),
    p95Ms: round(percentile(sorted, 95)),
    minMs: round(sorted[0] ?? Number.NaN),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function compare(client: readonly number[], baseline: readonly number[]): Comparison {
  const c = statsOf(client);
  const b = statsOf(baseline);
  return {
    client: c,
    baseline: b,
    ratioMedian: round(c.medianMs / b.medianMs),
    ratioP95: round(c.p95Ms / b.p95Ms),
  };
}

/**
 * The baseline: one POST of exactly the JSON the client sends, with the same Basic header, and
 * only the checks any caller would need (HTTP 200, the tag's entry is not an error).
 */
class RawDoveadm {
  readonly #url: string;
  readonly #authorization: string;
  #nextTag = 1;

  constructor(baseUrl: string, password: string) {
    this.#url = `${baseUrl}/doveadm/v1`;
    this.#authorization = `Basic ${Buffer.from(`doveadm:${password}`, 'utf8').toString('base64')}`;
  }

  async call(command: string, params: Record<string, unknown>): Promise<unknown> {
    const tag = `raw${this.#nextTag++}`;
    const response = await fetch(this.#url, {
      method: 'POST',
      headers: { authorization: this.#authorization, 'content-type': 'application/json' },
      body: JSON.stringify([[command, params, tag]]),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`raw ${command}: HTTP ${response.status}`);
    const answer = JSON.parse(text) as Array<[string, unknown, string]>;
    const entry = answer.find((row) => row[2] === tag);
    if (entry === undefined || entry[0] !== 'doveadmResponse') {
      throw new Error(`raw ${command}: ${text.slice(0, 200)}`);
    }
    return entry[1];
  }
}

function stateOf(payload: unknown): string {
  const first: unknown = Array.isArray(payload) ? (payload as unknown[])[0] : undefined;
  if (typeof first === 'object' && first !== null && 'state' in first) {
    const { state } = first;
    if (typeof state === 'string') return state;
  }
  throw new Error('raw sync: the answer carries no state');
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * Runs the client and the baseline alternately, swapping which goes first each round, so that
 * drift on a busy machine (and any after-effect of one request on the next) hits both alike.
 */
async function measurePair(
  iterations: number,
  client: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
): Promise<Comparison> {
  for (let i = 0; i < WARMUP; i++) {
    await client();
    await baseline();
  }
  const clientMs: number[] = [];
  const baselineMs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      clientMs.push(await timed(client));
      baselineMs.push(await timed(baseline));
    } else {
      baselineMs.push(await timed(baseline));
      clientMs.push(await timed(client));
    }
  }
  return compare(clientMs, baselineMs);
}

async function benchVersion(
  version: DovecotVersion,
  options: Options,
  track: (pair: DovecotPair | undefined) => void,
): Promise<VersionResult> {
  const pair = await startDovecotPair({ version, users: USERS });
  track(pair);
  const client = new DoveadmClient({
    url: pair.a.doveadmHttpUrl,
    password: pair.a.doveadmPassword,
  });
  try {
    const raw = new RawDoveadm(pair.a.doveadmHttpUrl, pair.a.doveadmPassword);
    const destination = pair.b.dsyncDestination;

    const imap = await connectImap(pair.a, SYNC_USER);
    try {
      for (let i = 1; i <= MESSAGES; i++) {
        await appendMessage(imap, 'INBOX', { subject: `bench message ${i}` });
      }
    } finally {
      await closeImap(imap);
    }
    let clientState = (await client.sync(SYNC_USER, { destination, state: '' })).state;
    const check = await compareMailboxes(pair.a, pair.b, SYNC_USER);
    if (!check.equal)
      throw new Error(`initial sync left differences: ${check.differences.join('; ')}`);
    // Each side keeps its own chain of states, as two independent callers would.
    let rawState = clientState;

    const sync = await measurePair(
      options.iterations,
      async () => {
        clientState = (await client.sync(SYNC_USER, { destination, state: clientState })).state;
      },
      async () => {
        rawState = stateOf(
          await raw.call('sync', { user: SYNC_USER, destination: [destination], state: rawState }),
        );
      },
    );

    const listUsers = await measurePair(
      options.iterations,
      async () => {
        const users = await client.listUsers();
        if (users.length !== USERS.length) throw new Error(`listUsers gave ${users.length} users`);
      },
      () => raw.call('user', { userMask: ['*'] }),
    );

    const after = await compareMailboxes(pair.a, pair.b, SYNC_USER);
    if (!after.equal) throw new Error(`A and B diverged: ${after.differences.join('; ')}`);
    return { version, sync, listUsers };
  } finally {
    client.close();
    await pair.stop();
    track(undefined);
  }
}

function availability(version: DovecotVersion): string | null {
  const result = version === '2.4' ? ensureDovecot24Sync() : ensureDovecot23Sync();
  return result.ok ? null : result.reason;
}

function printTable(results: ReadonlyArray<VersionResult | Skipped>, options: Options): void {
  const rows: string[][] = [
    [
      'dovecot',
      'call',
      'client median',
      'client p95',
      'raw median',
      'raw p95',
      'ratio med',
      'ratio p95',
    ],
  ];
  for (const result of results) {
    if ('skipped' in result) continue;
    for (const [call, c] of [
      ['sync (no change)', result.sync],
      ['listUsers', result.listUsers],
    ] as const) {
      rows.push([
        result.version,
        call,
        c.client.medianMs.toFixed(2),
        c.client.p95Ms.toFixed(2),
        c.baseline.medianMs.toFixed(2),
        c.baseline.p95Ms.toFixed(2),
        c.ratioMedian.toFixed(2),
        c.ratioP95.toFixed(2),
      ]);
    }
  }
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  const line = (row: string[]): string =>
    row
      .map((cell, col) => (col < 2 ? cell.padEnd(widths[col]) : cell.padStart(widths[col])))
      .join('  ');
  console.log(`\n${options.iterations} samples each (ms), ${USERS.length} users listed\n`);
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows.slice(1)) console.log(line(row));
  for (const result of results) {
    if ('skipped' in result) console.log(`Dovecot ${result.version} skipped: ${result.skipped}`);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  let active: DovecotPair | undefined;
  const track = (pair: DovecotPair | undefined): void => {
    active = pair;
  };
  // The testkit kills live instances on exit, but a signal would skip the folder clean-up of
  // a graceful stop; stop first, then leave with the conventional code.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      void (active?.stop() ?? Promise.resolve()).finally(() => process.exit(code));
    });
  }

  const results: Array<VersionResult | Skipped> = [];
  for (const version of ['2.4', '2.3'] as const) {
    const missing = availability(version);
    if (missing !== null) {
      // 2.4 is what dovewarden targets, so the bench has no point without it.
      if (version === '2.4') throw new Error(`Dovecot 2.4 unavailable: ${missing}`);
      results.push({ version, skipped: missing });
      continue;
    }
    console.log(`Dovecot ${version}: ${options.iterations} rounds of each call...`);
    results.push(await benchVersion(version, options, track));
  }

  printTable(results, options);
  const outDir = path.resolve(__dirname, '..', 'results');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'doveadm-client.json');
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    iterations: options.iterations,
    warmup: WARMUP,
    quick: options.quick,
    users: USERS.length,
    messages: MESSAGES,
    results,
  };
  fs.writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), outFile)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
