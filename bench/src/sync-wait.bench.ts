/**
 * Synchronous delivery replication (sync-wait, issue 28) on real Dovecot 2.4, in one run:
 * what the hook adds to an LMTP delivery (DATA to "250"), against the same delivery without
 * it, and against a bare dsync of the user.
 *
 * Three Dovecot pairs side by side, the same users:
 * - no hook: A runs what `dovewarden dovecot-config` prints with DOVEWARDEN_SYNC_WAIT_TIMEOUT
 *   unset (the event exporter alone), and a `dovewarden all` of its own replicates to B;
 * - hook: A runs the sync-wait config and Lua script it prints with the timeout set (30 s, so
 *   that none times out), and another `dovewarden all` (its own namespace) answers /sync-wait;
 * - bare: no exporter, no controller; after each delivery the harness runs `doveadm sync -1`
 *   of the user from A to B with the user's stored state, through A's doveadm TCP listener
 *   (as the worker does here) and, in turn, through A's Doveadm HTTP API.
 * Each round delivers one message to one user on each side, in an order that rotates every
 * round, so that the machine's noise hits every side alike; a round waits until every sync it
 * caused has finished, so each delivery finds an idle system. Then transactions to three
 * recipients, alternating hook and no hook.
 *
 * Usage: npm run bench:sync-wait -w @dovewarden/bench [-- --quick]
 * Needs the Dovecot 2.4 chroot (DOVEWARDEN_DOVECOT_BACKEND=chroot), the machine's Redis at
 * 127.0.0.1:6379 and a build (npx turbo run build).
 * Writes bench/results/sync-wait.json and its block of docs/benchmarks.md (between sync-wait
 * markers).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DoveadmClient, DoveadmTcpClient } from '@dovewarden/doveadm-client';
import {
  DovewardenProcess,
  SHARED_REDIS,
  buildMessage,
  cliPath,
  deleteNamespace,
  dovewardenEnv,
  deliverLmtpTimed,
  ensureDovecot24Sync,
  freePorts,
  sleep,
  startDovecotPair,
  uniqueNamespace,
  type DovecotPair,
  type DovecotServer,
} from '@dovewarden/testkit';
import { percentile, progress, round } from './e2e/util';

const quick = process.argv.includes('--quick');
/** Single-recipient rounds (one delivery on each side per round). */
const ROUNDS = quick ? 20 : 60;
/** Transactions to three recipients, on each of the two controlled pairs. */
const MULTI = quick ? 6 : 15;
const RECIPIENTS = 3;
const USERS = ['swb1', 'swb2', 'swb3', 'swb4', 'swb5'];
/** Generous, so that no delivery times out: the figures are of waits that ended in a sync. */
const TIMEOUT_MS = 30_000;
const INGEST_PASSWORD = 'bench-sync-wait';
/** Where the printed config expects the Lua script; replaced by A's own folder. */
const LUA_PLACEHOLDER = '/sync-wait-lua-dir';
/** How long the harness waits for a round's syncs to finish before it gives up. */
const SETTLE_LIMIT_MS = 60_000;
const START = '<!-- sync-wait:start -->';
const END = '<!-- sync-wait:end -->';

type Side = 'noHook' | 'hook';

/** A Dovecot pair replicated by a `dovewarden all` of its own. */
interface Controlled {
  side: Side;
  pair: DovecotPair;
  proc: DovewardenProcess;
  namespace: string;
  metricsPort: number;
}

interface Delivery {
  messageId: string;
  /** From the end of DATA to the last recipient's reply. */
  ms: number;
  /** From the end of DATA to each recipient's reply, in order. */
  replyMs: number[];
}

interface Summary {
  count: number;
  p50: number;
  p90: number;
  max: number;
  mean: number;
}

/** Everything that runs, so that a failure or a signal stops it all. */
const live = {
  pairs: new Set<DovecotPair>(),
  procs: new Set<DovewardenProcess>(),
  namespaces: new Set<string>(),
};

function summary(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((x, y) => x - y);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.reduce((sum, v) => sum + v, 0) / Math.max(1, sorted.length)),
  };
}

function cli(env: Record<string, string>, ...args: string[]): string {
  const result = spawnSync(process.execPath, [cliPath(), ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0)
    throw new Error(
      `dovewarden ${args.join(' ')} exited ${String(result.status)}: ${result.stderr}`,
    );
  return result.stdout;
}

/** Prometheus text: the sum of every sample of `name` whose labels contain `labels`. */
function metricSum(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest.charAt(0) !== '{' && rest.charAt(0) !== ' ') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function metrics(c: Controlled): Promise<string> {
  return (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
}

async function startControlled(side: Side): Promise<Controlled> {
  const [httpPort = 0, metricsPort = 0] = await freePorts(2);
  const namespace = uniqueNamespace(`bench-sync-wait-${side}`);
  live.namespaces.add(namespace);
  let env: Record<string, string> = {
    ...dovewardenEnv(namespace),
    DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
    DOVEWARDEN_ADMIN_ADDR: '127.0.0.1:0',
    DOVEWARDEN_INGEST_PASSWORD: INGEST_PASSWORD,
    DOVEWARDEN_BACKGROUND_REPLICATION_ENABLED: 'false',
    DOVEWARDEN_VERIFY_ENABLED: 'false',
    ...(side === 'hook' ? { DOVEWARDEN_SYNC_WAIT_TIMEOUT: `${TIMEOUT_MS}ms` } : {}),
  };
  const printed = cli(
    env,
    'dovecot-config',
    '--url',
    `http://127.0.0.1:${httpPort}/events`,
    '--sync-wait-lua-path',
    `${LUA_PLACEHOLDER}/dovewarden-sync-wait.lua`,
  );
  const hooked = printed.includes('push_notification dovewarden_sync_wait');
  if (hooked !== (side === 'hook'))
    throw new Error(
      `dovecot-config for ${side}: sync-wait config ${hooked ? 'present' : 'absent'}`,
    );
  const pair = await startDovecotPair({
    version: '2.4',
    users: USERS,
    extraConfigA: `\n${printed.replaceAll(LUA_PLACEHOLDER, '{{dir}}')}`,
    ...(side === 'hook'
      ? {
          extraFilesA: {
            'dovewarden-sync-wait.lua': cli(env, 'dovecot-config', '--sync-wait-lua'),
          },
        }
      : {}),
  });
  live.pairs.add(pair);
  env = { ...env, ...dovewardenEnv(namespace, pair) };
  const proc = DovewardenProcess.start({ args: ['all'], env, metricsPort });
  live.procs.add(proc);
  await proc.waitUntilReady();
  return { side, pair, proc, namespace, metricsPort };
}

/** One LMTP transaction; DATA's end to each reply is timed on this side of the socket. */
async function deliver(
  server: DovecotServer,
  recipients: readonly string[],
  subject: string,
): Promise<Delivery> {
  const { raw, messageId } = buildMessage({ subject });
  const timed = await deliverLmtpTimed(server, recipients, raw, {
    timeoutMs: TIMEOUT_MS * recipients.length + 30_000,
  });
  const refused = timed.codes.find((code) => code !== 250);
  if (refused !== undefined) throw new Error(`LMTP answered ${refused} to DATA`);
  return { messageId, ms: timed.ms, replyMs: timed.replyMs };
}

/** Whether B holds the message in the user's INBOX now. */
async function onB(b: DovecotServer, user: string, messageId: string): Promise<boolean> {
  const found = await b.doveadm([
    'search',
    '-u',
    user,
    'mailbox',
    'INBOX',
    'header',
    'Message-ID',
    messageId,
  ]);
  return found.trim() !== '';
}

/**
 * Waits until the controller has finished a sync since `before` (its syncs_total) and has none
 * running or queued, twice in a row 30 ms apart; returns how many syncs ran.
 */
async function settle(c: Controlled, before: number): Promise<number> {
  const deadline = Date.now() + SETTLE_LIMIT_MS;
  let quietSince: number | undefined;
  for (;;) {
    const text = await metrics(c);
    const total = metricSum(text, 'dovewarden_syncs_total');
    const busy =
      metricSum(text, 'dovewarden_syncs_in_progress') +
      metricSum(text, 'dovewarden_queue_jobs', 'state="waiting"') +
      metricSum(text, 'dovewarden_queue_jobs', 'state="prioritized"') +
      metricSum(text, 'dovewarden_queue_jobs', 'state="active"');
    if (total > before && busy === 0) {
      if (quietSince !== undefined && Date.now() - quietSince >= 30) return total - before;
      quietSince ??= Date.now();
    } else {
      quietSince = undefined;
    }
    if (Date.now() > deadline)
      throw new Error(`${c.side}: syncs not finished within ${SETTLE_LIMIT_MS} ms`);
    await sleep(10);
  }
}

/** The bare side: no exporter, no controller; the harness syncs each user itself. */
class BareSide {
  readonly #tcp: DoveadmTcpClient;
  readonly #http: DoveadmClient;
  readonly #states = new Map<string, string>();

  constructor(readonly pair: DovecotPair) {
    this.#tcp = new DoveadmTcpClient({
      destination: pair.a.dsyncDestination,
      password: pair.a.doveadmPassword,
    });
    this.#http = new DoveadmClient({
      url: pair.a.doveadmHttpUrl,
      password: pair.a.doveadmPassword,
    });
  }

  /** `doveadm sync -1 -l 30` of the user to B with its stored state; returns the time taken. */
  async sync(user: string, via: 'tcp' | 'http'): Promise<number> {
    const options = {
      destination: this.pair.b.dsyncDestination,
      state: this.#states.get(user) ?? '',
      onewaySync: true,
      lockTimeout: 30,
    };
    const started = performance.now();
    const result = await (via === 'tcp' ? this.#tcp : this.#http).sync(user, options);
    const ms = performance.now() - started;
    this.#states.set(user, result.state);
    return ms;
  }

  close(): void {
    this.#tcp.close();
    this.#http.close();
  }
}

/** The worker's sync_duration_seconds and ingest's sync-wait tallies, for deltas. */
interface Counters {
  syncSeconds: number;
  syncs: number;
  waitSeconds: number;
  waits: number;
}

async function counters(c: Controlled): Promise<Counters> {
  const text = await metrics(c);
  return {
    syncSeconds: metricSum(text, 'dovewarden_sync_duration_seconds_sum'),
    syncs: metricSum(text, 'dovewarden_sync_duration_seconds_count'),
    waitSeconds: metricSum(text, 'dovewarden_sync_wait_duration_seconds_sum', 'outcome="synced"'),
    waits: metricSum(text, 'dovewarden_sync_wait_duration_seconds_count', 'outcome="synced"'),
  };
}

function meanMs(seconds: number, count: number): number {
  return count === 0 ? Number.NaN : round((seconds / count) * 1000);
}

function dovecotVersion(): string {
  const avail = ensureDovecot24Sync();
  if (!avail.ok) return 'missing';
  const out = spawnSync('chroot', [avail.root, '/usr/sbin/dovecot', '--version'], {
    encoding: 'utf8',
  });
  return (out.stdout ?? '').trim() || '2.4';
}

async function stopAll(): Promise<void> {
  for (const proc of live.procs) await proc.stop().catch(() => undefined);
  for (const pair of live.pairs) await pair.stop().catch(() => undefined);
  for (const namespace of live.namespaces)
    await deleteNamespace(SHARED_REDIS, namespace).catch(() => undefined);
  live.procs.clear();
  live.pairs.clear();
  live.namespaces.clear();
}

const fmt = (v: number, digits = 1): string =>
  Number.isFinite(v) ? v.toLocaleString('en', { maximumFractionDigits: digits }) : 'n/a';

interface Report {
  quick: boolean;
  date: string;
  machine: {
    nproc: number;
    cpu: string;
    node: string;
    kernel: string;
    dovecot: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  parameters: {
    rounds: number;
    multi: number;
    recipients: number;
    users: number;
    syncWaitTimeoutMs: number;
  };
  /** DATA's end to "250", one recipient. */
  single: {
    noHook: Summary;
    hook: Summary;
    /** A without exporter or hook (the bare pair's deliveries). */
    bare: Summary;
  };
  /** The bare `doveadm sync -1` of the user right after a delivery. */
  dsync: { tcp: Summary; http: Summary };
  /** hook p50 − no-hook p50, and the median of each round's own difference. */
  addedMs: { p50: number; p90: number; pairedMedian: number };
  /** added p50 ÷ bare dsync p50 (TCP, the worker's transport here). */
  addedOverDsync: number;
  addedOverDsyncHttp: number;
  multi: {
    noHook: Summary;
    hook: Summary;
    /** Each recipient's reply from DATA's end, medians, with the hook (Dovecot sends them together). */
    hookReplyP50Ms: number[];
    /** Ingest's synced waits per hook transaction (median), and their sum (one after another). */
    hookWaitsPerTransaction: number;
    hookWaitSumMs: Summary;
    /** 3 × the single-recipient hook p50, and the transaction's p50 over it. */
    threeSinglesMs: number;
    ratio: number;
  };
  /** Mean of the worker's own syncs (dovewarden_sync_duration_seconds) during the rounds. */
  workerSyncMeanMs: { noHook: number; hook: number };
  /** Mean wait of a synced /sync-wait as ingest measured it, during the rounds. */
  ingestWaitMeanMs: number;
  /** Syncs per single delivery (syncs_total deltas), medians. */
  syncsPerDelivery: { noHook: number; hook: number };
  syncWaitOutcomes: Record<string, number>;
  /** Deliveries the hook answered 250 for that were not on B right then. */
  missingOnBAfter250: number;
  /** Deliveries without the hook not on B once their syncs had finished. */
  missingOnBNoHook: number;
  logProblems: string[];
  samples: Record<string, number[]>;
}

function table(r: Report): string[] {
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const s = (x: Summary): string[] => [fmt(x.p50), fmt(x.p90), fmt(x.max)];
  return [
    row(['LMTP DATA → 250, one recipient', 'p50 ms', 'p90 ms', 'max ms']),
    row(['---', '---:', '---:', '---:']),
    row(['without the hook (event exporter only)', ...s(r.single.noHook)]),
    row(['with the sync-wait hook', ...s(r.single.hook)]),
    row([
      '**added by the hook** (with − without)',
      `**${fmt(r.addedMs.p50)}**`,
      fmt(r.addedMs.p90),
      '',
    ]),
    row(['bare `doveadm sync -1` of the user, doveadm TCP (as the worker)', ...s(r.dsync.tcp)]),
    row(['bare `doveadm sync -1` of the user, Doveadm HTTP API', ...s(r.dsync.http)]),
    row(['**added ÷ bare dsync (TCP)**, p50', `**${fmt(r.addedOverDsync, 2)}×**`, '', '']),
    row(['added ÷ bare dsync (HTTP API), p50', `${fmt(r.addedOverDsyncHttp, 2)}×`, '', '']),
    row(['A with neither exporter nor hook', ...s(r.single.bare)]),
  ];
}

function multiTable(r: Report): string[] {
  const row = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const m = r.multi;
  return [
    row([`LMTP DATA → last 250, ${RECIPIENTS} recipients`, 'p50 ms', 'p90 ms', 'max ms']),
    row(['---', '---:', '---:', '---:']),
    row(['without the hook', fmt(m.noHook.p50), fmt(m.noHook.p90), fmt(m.noHook.max)]),
    row(['with the hook', fmt(m.hook.p50), fmt(m.hook.p90), fmt(m.hook.max)]),
    row([`${RECIPIENTS} × one recipient with the hook (p50)`, fmt(m.threeSinglesMs), '', '']),
    row(['**with the hook ÷ that**, p50', `**${fmt(m.ratio, 2)}×**`, '', '']),
    row([
      `with the hook: ingest's ${fmt(m.hookWaitsPerTransaction, 0)} waits of a transaction, summed`,
      fmt(m.hookWaitSumMs.p50),
      fmt(m.hookWaitSumMs.p90),
      fmt(m.hookWaitSumMs.max),
    ]),
  ];
}

function docBlock(r: Report): string[] {
  const outcomes = Object.entries(r.syncWaitOutcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    START,
    '',
    '### Synchronous delivery replication (sync-wait) (`bench/results/sync-wait.json`)',
    '',
    `\`npm run bench:sync-wait -w @dovewarden/bench\` (bench/src/sync-wait.bench.ts) runs three Dovecot ${r.machine.dovecot.split(' ')[0] ?? '2.4'} pairs side by side with ${r.parameters.users} users: A with what \`dovewarden dovecot-config\` prints without DOVEWARDEN_SYNC_WAIT_TIMEOUT (the event exporter only), replicated by a \`dovewarden all\`; A with the sync-wait config and Lua hook it prints with the timeout at ${r.parameters.syncWaitTimeoutMs / 1000} s, replicated by another \`dovewarden all\`; and a bare pair on which the harness runs \`doveadm sync -1\` of the user with its stored state right after each delivery (one new message to carry). ${r.parameters.rounds} rounds, each one single-recipient LMTP delivery on every side in an order that rotates every round; each waits until the syncs it caused are done. Then ${r.parameters.multi} transactions to ${r.parameters.recipients} recipients on each controlled pair. Times are from the end of DATA to the reply, on the client's side of the socket${r.quick ? ' (its --quick sizes)' : ''}. ${r.machine.nproc} CPUs, Node ${r.machine.node}, ${r.date.slice(0, 10)}; the machine was shared (load average ${r.machine.loadAverageAtStart[0] ?? 'n/a'} at the start, ${r.machine.loadAverageAtEnd[0] ?? 'n/a'} at the end).`,
    '',
    ...table(r),
    '',
    ...multiTable(r),
    '',
    `The hook adds ${fmt(r.addedMs.p50)} ms at the median, ${fmt(r.addedOverDsync, 2)} times a bare dsync of the user: about one dsync, since the delivery waits for the worker's sync of that user (the worker's syncs took ${fmt(r.workerSyncMeanMs.hook)} ms on average). The recipients of one transaction wait one after another, and Dovecot sends all their replies after the last wait, so ${r.parameters.recipients} recipients took ${fmt(r.multi.ratio, 2)} times ${r.parameters.recipients} single deliveries.`,
    '',
    `Sync-wait outcomes: ${outcomes || 'none'}; mail not on B at its 250: ${r.missingOnBAfter250}. Syncs per delivery (median): ${r.syncsPerDelivery.hook} with the hook, ${r.syncsPerDelivery.noHook} without${r.syncsPerDelivery.hook > r.syncsPerDelivery.noHook ? ": the delivery's own event still queues a sync, which runs after the 250 and has nothing left to carry" : "; the delivery's own event asks for no second sync, since its wait already put the mail on B"}.`,
    '',
    END,
  ];
}

/** Replaces the sync-wait block of docs/benchmarks.md, or adds it before the mask block (or at the end). */
function writeDocBlock(block: string[]): void {
  const file = path.join(__dirname, '..', '..', 'docs', 'benchmarks.md');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  const joined = block.join('\n');
  const mask = text.indexOf('<!-- mask:start -->');
  const next =
    start !== -1 && end > start
      ? text.slice(0, start) + joined + text.slice(end + END.length)
      : mask !== -1
        ? `${text.slice(0, mask)}${joined}\n\n${text.slice(mask)}`
        : `${text.trimEnd()}\n\n${joined}\n`;
  fs.writeFileSync(file, next);
}

async function main(): Promise<void> {
  const avail = ensureDovecot24Sync();
  if (!avail.ok) throw new Error(`Dovecot 2.4 unavailable: ${avail.reason}`);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      void stopAll().finally(() => process.exit(code));
    });
  }
  const loadAverageAtStart = os.loadavg().map((v) => round(v, 2));
  progress('[sync-wait] starting three Dovecot 2.4 pairs and two dovewarden all');
  const noHook = await startControlled('noHook');
  const hook = await startControlled('hook');
  const barePair = await startDovecotPair({ version: '2.4', users: USERS });
  live.pairs.add(barePair);
  const bare = new BareSide(barePair);
  const controlled: Record<Side, Controlled> = { noHook, hook };

  const samples = {
    noHook: [] as number[],
    hook: [] as number[],
    bare: [] as number[],
    dsyncTcp: [] as number[],
    dsyncHttp: [] as number[],
    added: [] as number[],
    multiNoHook: [] as number[],
    multiHook: [] as number[],
    /** Per hook transaction: ingest's synced waits, summed. */
    multiHookWaitSum: [] as number[],
  };
  const multiHookReplies: number[][] = Array.from({ length: RECIPIENTS }, () => []);
  const multiHookWaits: number[] = [];
  const syncsPer: Record<Side, number[]> = { noHook: [], hook: [] };
  let missingHook = 0;
  let missingNoHook = 0;

  /** One delivery on a controlled side, then its syncs; returns the delivery. */
  const onControlled = async (
    side: Side,
    recipients: readonly string[],
    subject: string,
  ): Promise<Delivery> => {
    const c = controlled[side];
    const before = metricSum(await metrics(c), 'dovewarden_syncs_total');
    const d = await deliver(c.pair.a, recipients, subject);
    if (side === 'hook') {
      // The hook's promise: on B the moment the (last) 250 is in.
      for (const user of recipients)
        if (!(await onB(c.pair.b, user, d.messageId))) missingHook += 1;
    }
    const syncs = await settle(c, before);
    if (recipients.length === 1) syncsPer[side].push(syncs);
    if (side === 'noHook') {
      for (const user of recipients)
        if (!(await onB(c.pair.b, user, d.messageId))) missingNoHook += 1;
    }
    return d;
  };

  try {
    progress('[sync-wait] warm-up: two deliveries per user on every side');
    for (let i = 0; i < 2; i += 1) {
      for (const user of USERS) {
        await onControlled('noHook', [user], `warm-up ${i}`);
        await onControlled('hook', [user], `warm-up ${i}`);
        await deliver(barePair.a, [user], `warm-up ${i}`);
        await bare.sync(user, i === 0 ? 'tcp' : 'http');
      }
    }
    missingHook = 0;
    missingNoHook = 0;
    syncsPer.noHook.length = 0;
    syncsPer.hook.length = 0;
    const countersBefore = { noHook: await counters(noHook), hook: await counters(hook) };

    progress(`[sync-wait] ${ROUNDS} rounds of single-recipient deliveries`);
    type Step = 'noHook' | 'hook' | 'tcp' | 'http';
    const steps: Step[] = ['noHook', 'hook', 'tcp', 'http'];
    for (let i = 0; i < ROUNDS; i += 1) {
      const user = USERS[i % USERS.length] ?? 'swb1';
      const order = [...steps.slice(i % steps.length), ...steps.slice(0, i % steps.length)];
      const round_: Partial<Record<Step, number>> = {};
      for (const step of order) {
        if (step === 'noHook' || step === 'hook') {
          round_[step] = (await onControlled(step, [user], `round ${i}`)).ms;
        } else {
          samples.bare.push((await deliver(barePair.a, [user], `round ${i} ${step}`)).ms);
          round_[step] = await bare.sync(user, step);
        }
      }
      samples.noHook.push(round_.noHook ?? Number.NaN);
      samples.hook.push(round_.hook ?? Number.NaN);
      samples.dsyncTcp.push(round_.tcp ?? Number.NaN);
      samples.dsyncHttp.push(round_.http ?? Number.NaN);
      samples.added.push((round_.hook ?? Number.NaN) - (round_.noHook ?? Number.NaN));
      if ((i + 1) % 10 === 0)
        progress(
          `[sync-wait] ${i + 1}/${ROUNDS}: p50 without ${fmt(summary(samples.noHook).p50)} ms, with ${fmt(summary(samples.hook).p50)} ms, dsync ${fmt(summary(samples.dsyncTcp).p50)} ms`,
        );
    }
    const countersAfter = { noHook: await counters(noHook), hook: await counters(hook) };

    progress(`[sync-wait] ${MULTI} transactions to ${RECIPIENTS} recipients on each side`);
    for (let j = 0; j < MULTI; j += 1) {
      const recipients = Array.from(
        { length: RECIPIENTS },
        (_, k) => USERS[(j + k) % USERS.length] ?? 'swb1',
      );
      const order: Side[] = j % 2 === 0 ? ['noHook', 'hook'] : ['hook', 'noHook'];
      for (const side of order) {
        const before = side === 'hook' ? await counters(hook) : undefined;
        const d = await onControlled(side, recipients, `multi ${j}`);
        if (before === undefined) {
          samples.multiNoHook.push(d.ms);
        } else {
          const after = await counters(hook);
          samples.multiHook.push(d.ms);
          samples.multiHookWaitSum.push((after.waitSeconds - before.waitSeconds) * 1000);
          multiHookWaits.push(after.waits - before.waits);
          d.replyMs.forEach((ms, k) => multiHookReplies[k]?.push(ms));
        }
      }
    }

    const hookText = await metrics(hook);
    const syncWaitOutcomes: Record<string, number> = {};
    for (const line of hookText.split('\n')) {
      const match = /^dovewarden_sync_wait_total\{outcome="([^"]+)"\} (\S+)$/.exec(line);
      if (match !== null) syncWaitOutcomes[match[1] ?? '?'] = Number(match[2]);
    }
    syncWaitOutcomes.timeout ??= 0;

    const single = {
      noHook: summary(samples.noHook),
      hook: summary(samples.hook),
      bare: summary(samples.bare),
    };
    const dsync = { tcp: summary(samples.dsyncTcp), http: summary(samples.dsyncHttp) };
    const added = round(single.hook.p50 - single.noHook.p50);
    const multiHook = summary(samples.multiHook);
    const threeSingles = round(RECIPIENTS * single.hook.p50);
    const median = (v: number[]): number => summary(v).p50;
    const delta = (side: Side): Counters => ({
      syncSeconds: countersAfter[side].syncSeconds - countersBefore[side].syncSeconds,
      syncs: countersAfter[side].syncs - countersBefore[side].syncs,
      waitSeconds: countersAfter[side].waitSeconds - countersBefore[side].waitSeconds,
      waits: countersAfter[side].waits - countersBefore[side].waits,
    });
    const report: Report = {
      quick,
      date: new Date().toISOString(),
      machine: {
        nproc: os.availableParallelism(),
        cpu: os.cpus()[0]?.model ?? 'unknown',
        node: process.version,
        kernel: os.release(),
        dovecot: dovecotVersion(),
        loadAverageAtStart,
        loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
      },
      parameters: {
        rounds: ROUNDS,
        multi: MULTI,
        recipients: RECIPIENTS,
        users: USERS.length,
        syncWaitTimeoutMs: TIMEOUT_MS,
      },
      single,
      dsync,
      addedMs: {
        p50: added,
        p90: round(single.hook.p90 - single.noHook.p90),
        pairedMedian: median(samples.added),
      },
      addedOverDsync: round(added / dsync.tcp.p50, 2),
      addedOverDsyncHttp: round(added / dsync.http.p50, 2),
      multi: {
        noHook: summary(samples.multiNoHook),
        hook: multiHook,
        hookReplyP50Ms: multiHookReplies.map((v) => median(v)),
        hookWaitsPerTransaction: median(multiHookWaits),
        hookWaitSumMs: summary(samples.multiHookWaitSum),
        threeSinglesMs: threeSingles,
        ratio: round(multiHook.p50 / threeSingles, 2),
      },
      workerSyncMeanMs: {
        noHook: meanMs(delta('noHook').syncSeconds, delta('noHook').syncs),
        hook: meanMs(delta('hook').syncSeconds, delta('hook').syncs),
      },
      ingestWaitMeanMs: meanMs(delta('hook').waitSeconds, delta('hook').waits),
      syncsPerDelivery: { noHook: median(syncsPer.noHook), hook: median(syncsPer.hook) },
      syncWaitOutcomes,
      missingOnBAfter250: missingHook,
      missingOnBNoHook: missingNoHook,
      logProblems: [
        ...noHook.pair.a.logProblems().map((l) => `noHook A: ${l}`),
        ...hook.pair.a.logProblems().map((l) => `hook A: ${l}`),
        ...barePair.a.logProblems().map((l) => `bare A: ${l}`),
      ],
      samples: Object.fromEntries(
        Object.entries(samples).map(([k, v]) => [k, v.map((x) => round(x))]),
      ),
    };

    console.log(
      `\nsync-wait benchmark (${quick ? 'quick' : 'full'}; ${report.machine.nproc} CPUs, ${process.version}, ${report.machine.dovecot}; load ${loadAverageAtStart[0]} → ${report.machine.loadAverageAtEnd[0]})\n`,
    );
    for (const line of table(report)) console.log(line);
    console.log('');
    for (const line of multiTable(report)) console.log(line);
    console.log('');
    console.log(
      `paired median (hook − no hook, same round): ${fmt(report.addedMs.pairedMedian)} ms; worker sync mean: no hook ${fmt(report.workerSyncMeanMs.noHook)} ms, hook ${fmt(report.workerSyncMeanMs.hook)} ms; ingest wait mean ${fmt(report.ingestWaitMeanMs)} ms; syncs per delivery (median): no hook ${report.syncsPerDelivery.noHook}, hook ${report.syncsPerDelivery.hook}`,
    );
    console.log(
      `3-recipient replies with the hook (p50 from DATA's end): ${report.multi.hookReplyP50Ms.map((v) => fmt(v)).join(' / ')} ms`,
    );
    console.log(
      `sync-wait outcomes: ${JSON.stringify(syncWaitOutcomes)}; not on B at 250: ${missingHook}; not on B after the no-hook syncs: ${missingNoHook}`,
    );
    if (report.logProblems.length > 0)
      console.log(`Dovecot log problems:\n${report.logProblems.join('\n')}`);

    const outDir = path.join(__dirname, '..', 'results');
    fs.mkdirSync(outDir, { recursive: true });
    const outFile = path.join(outDir, 'sync-wait.json');
    fs.writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
    writeDocBlock(docBlock(report));
    console.log(`\nwrote ${path.relative(process.cwd(), outFile)} and docs/benchmarks.md`);
    if (missingHook > 0 || (syncWaitOutcomes.timeout ?? 0) > 0) process.exitCode = 1;
  } finally {
    bare.close();
    await stopAll();
  }
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  await stopAll();
  process.exitCode = 1;
});
