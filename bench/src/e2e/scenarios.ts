import {
  addFlags,
  buildMessage,
  closeImap,
  connectImap,
  deliverLmtp,
  expungeMessages,
  asBound,
  renameMailbox,
  waitUntil,
} from '@dovewarden/testkit';
import { ReplicaWatcher, type ReplicaStatus } from './replica-watcher';
import { existsOnB, type SystemUnderTest } from './systems';
import {
  cpuSeconds,
  machineBusySeconds,
  now,
  progress,
  round,
  sleep,
  summarise,
  type LatencySummary,
} from './util';

type ImapClient = Awaited<ReturnType<typeof connectImap>>;

export interface Session {
  sys: SystemUnderTest;
  users: string[];
  imapA: Map<string, ImapClient>;
  watchers: Map<string, ReplicaWatcher>;
  /** UIDs in each user's INBOX on A that are still there and unseen, oldest first. */
  unseen: Map<string, number[]>;
  limitMs: number;
}

export interface LatencySample {
  /** When A acknowledged the change. */
  ackAt: number;
  /** When B first showed it (Infinity: never within the limit). */
  seenAt: number;
  user: string;
}

const latencyOf = (s: LatencySample): number => s.seenAt - s.ackAt;

export function summariseSamples(samples: readonly LatencySample[]): LatencySummary {
  return summarise(samples.map(latencyOf));
}

/** Opens the per-user connections once B holds each user's first message, so B is never touched first. */
export async function openSession(
  sys: SystemUnderTest,
  users: string[],
  limitMs: number,
): Promise<Session> {
  const imapA = new Map<string, ImapClient>();
  for (const user of users) imapA.set(user, await connectImap(sys.a, user));
  const unseen = new Map<string, number[]>();
  for (const user of users) {
    const { raw } = buildMessage({ subject: `seed ${user}` });
    const result = await imapA.get(user)?.append('INBOX', raw);
    unseen.set(user, result !== false && result?.uid !== undefined ? [result.uid] : []);
    sys.afterChange(user);
  }
  await waitUntil(
    () => users.every((u) => existsOnB(sys.b, u)),
    asBound(60_000),
    `${sys.id}: the first sync to reach B`,
    50,
  );
  // The file appears before dsync commits B's index; a moment later STATUS sees the message.
  await sleep(500);
  const watchers = new Map<string, ReplicaWatcher>();
  for (const user of users) watchers.set(user, await ReplicaWatcher.open(sys.b, user, 5));
  return { sys, users, imapA, watchers, unseen, limitMs };
}

export async function closeSession(session: Session): Promise<void> {
  await Promise.all([...session.watchers.values()].map((w) => w.close()));
  await Promise.all([...session.imapA.values()].map((c) => closeImap(c)));
}

function clientOf(session: Session, user: string): ImapClient {
  const client = session.imapA.get(user);
  if (client === undefined) throw new Error(`no IMAP connection for ${user}`);
  return client;
}

function watcherOf(session: Session, user: string): ReplicaWatcher {
  const watcher = session.watchers.get(user);
  if (watcher === undefined) throw new Error(`no watcher for ${user}`);
  return watcher;
}

/** APPENDs one message on A and resolves once B shows it (or the limit passed). */
async function appendAndWatch(
  session: Session,
  user: string,
  label: string,
): Promise<LatencySample> {
  const { raw } = buildMessage({ subject: label });
  const result = await clientOf(session, user).append('INBOX', raw);
  const ackAt = now();
  if (result === false || result.uid === undefined) throw new Error(`APPEND for ${user} failed`);
  const uid = result.uid;
  session.sys.afterChange(user);
  session.unseen.get(user)?.push(uid);
  const seenAt = await watcherOf(session, user).waitFor(
    'INBOX',
    (s) => s !== null && s.uidNext > uid,
    session.limitMs,
  );
  return { ackAt, seenAt, user };
}

function setPollInterval(session: Session, ms: number): void {
  for (const w of session.watchers.values()) w.intervalMs = ms;
}

/**
 * Single messages: each APPEND waits until the previous one is on B, plus a short pause, so
 * every sample sees an idle system. Users rotate over the first five.
 */
export async function singleAppends(session: Session, count: number): Promise<LatencySample[]> {
  setPollInterval(session, 5);
  const samples: LatencySample[] = [];
  for (let i = 0; i < count; i += 1) {
    const user = session.users[i % Math.min(5, session.users.length)] ?? '';
    samples.push(await appendAndWatch(session, user, `single ${i}`));
    await sleep(100);
  }
  return samples;
}

/** Bursts: 5 APPENDs to each of 20 users at once (100 messages), pipelined per connection. */
export async function bursts(
  session: Session,
  count: number,
  perUser: number,
): Promise<LatencySample[]> {
  // 20 users at 5 ms would be 4,000 STATUS/s, enough to slow B itself on two cores.
  setPollInterval(session, 20);
  const samples: LatencySample[] = [];
  for (let burst = 0; burst < count; burst += 1) {
    const all = session.users.flatMap((user) =>
      Array.from({ length: perUser }, (_, k) =>
        appendAndWatch(session, user, `burst ${burst}.${k}`),
      ),
    );
    samples.push(...(await Promise.all(all)));
    await sleep(1000);
  }
  return samples;
}

export type ChangeKind = 'flag' | 'expunge' | 'rename' | 'lmtp';

async function statusOnB(
  session: Session,
  user: string,
  mailbox = 'INBOX',
): Promise<ReplicaStatus> {
  return watcherOf(session, user).status(mailbox);
}

/** One change of the given kind on A, timed until B shows it. */
async function changeAndWatch(
  session: Session,
  kind: ChangeKind,
  user: string,
  n: number,
): Promise<LatencySample> {
  const client = clientOf(session, user);
  const watcher = watcherOf(session, user);
  const before = await statusOnB(session, user);
  if (before === null) throw new Error(`${user} has no INBOX on B`);
  let ackAt: number;
  let wait: Promise<number>;
  switch (kind) {
    case 'flag': {
      const uid = session.unseen.get(user)?.shift();
      if (uid === undefined) throw new Error(`${user} has no unseen message left`);
      await addFlags(client, 'INBOX', String(uid), ['\\Seen']);
      ackAt = now();
      wait = watcher.waitFor(
        'INBOX',
        (s) => s !== null && s.unseen === before.unseen - 1,
        session.limitMs,
      );
      break;
    }
    case 'expunge': {
      const uid = session.unseen.get(user)?.pop();
      if (uid === undefined) throw new Error(`${user} has no message left to expunge`);
      await expungeMessages(client, 'INBOX', String(uid));
      ackAt = now();
      wait = watcher.waitFor(
        'INBOX',
        (s) => s !== null && s.messages === before.messages - 1,
        session.limitMs,
      );
      break;
    }
    case 'rename': {
      const from = `Folder-${n}`;
      const to = `Renamed-${n}`;
      // The folder has to be on B before its rename can be timed.
      await client.mailboxCreate(from);
      session.sys.afterChange(user);
      await watcher.waitFor(from, (s) => s !== null, session.limitMs);
      await sleep(100);
      await renameMailbox(client, from, to);
      ackAt = now();
      wait = watcher.waitFor(to, (s) => s !== null, session.limitMs);
      break;
    }
    case 'lmtp': {
      const { raw } = buildMessage({ subject: `delivery ${n}`, to: `${user}@example.com` });
      await deliverLmtp(session.sys.a, `${user}@example.com`, raw);
      ackAt = now();
      wait = watcher.waitFor(
        'INBOX',
        (s) => s !== null && s.messages === before.messages + 1,
        session.limitMs,
      );
      break;
    }
  }
  session.sys.afterChange(user);
  return { ackAt, seenAt: await wait, user };
}

export async function otherChanges(
  session: Session,
  reps: number,
): Promise<Record<ChangeKind, LatencySample[]>> {
  setPollInterval(session, 5);
  const result: Record<ChangeKind, LatencySample[]> = {
    flag: [],
    expunge: [],
    rename: [],
    lmtp: [],
  };
  for (const kind of ['flag', 'expunge', 'rename', 'lmtp'] as const) {
    for (let i = 0; i < reps; i += 1) {
      const user = session.users[i % session.users.length] ?? '';
      result[kind].push(await changeAndWatch(session, kind, user, i));
      // Lets follow-up syncs (the second pass after a rename, say) finish before the next sample.
      await sleep(kind === 'rename' ? 400 : 100);
    }
  }
  return result;
}

export interface ThroughputStep {
  rate: number;
  seconds: number;
  users: number;
  sent: number;
  achievedRate: number;
  latency: LatencySummary;
  /** From the end of the load until B showed the last change; Infinity if it never did. */
  convergeMs: number;
  /** [ms since the step began, changes acknowledged on A but not yet on B]. */
  backlog: Array<[number, number]>;
  dsyncRuns: number;
  dsyncPerChange: number;
  controllerCpuSeconds: number;
  machineCpuSeconds: number;
  keptUp: boolean;
}

/** A step "keeps up" when changes stay under 5 s under load and B catches up within 5 s after. */
export const KEEP_UP_MS = 5000;

export async function sustainedLoad(
  session: Session,
  rate: number,
  seconds: number,
  convergeLimitMs: number,
): Promise<ThroughputStep> {
  // Under load the poll interval bounds the measuring error, not the systems; 50 ms keeps B's
  // own IMAP load small next to the syncs.
  setPollInterval(session, 50);
  const pids = (await session.sys.controllerProcesses()).map((p) => p.pid);
  const cpuBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const machineBefore = machineBusySeconds();
  const dsyncBefore = session.sys.dsyncSessions();
  const start = now();
  const samples: LatencySample[] = [];
  const inFlight: Array<Promise<void>> = [];
  let outstanding = 0;
  const backlog: Array<[number, number]> = [];
  const sampler = setInterval(() => backlog.push([round(now() - start, 0), outstanding]), 250);
  const period = 1000 / rate;
  let sent = 0;
  const end = start + seconds * 1000;
  while (now() < end) {
    const due = start + sent * period;
    if (due > now()) await sleep(due - now());
    const user = session.users[sent % session.users.length] ?? '';
    sent += 1;
    outstanding += 1;
    inFlight.push(
      appendAndWatch(session, user, `load ${rate}/${sent}`).then(
        (sample) => {
          samples.push(sample);
          outstanding -= 1;
        },
        () => {
          outstanding -= 1;
          samples.push({ ackAt: now(), seenAt: Number.POSITIVE_INFINITY, user });
        },
      ),
    );
  }
  const loadEnd = now();
  const achievedRate = sent / ((loadEnd - start) / 1000);
  // Waiting for all samples is bounded by the watchers' limit; convergeLimitMs caps the report.
  await Promise.race([Promise.all(inFlight), sleep(convergeLimitMs + 2000)]);
  clearInterval(sampler);
  backlog.push([round(now() - start, 0), outstanding]);
  const lastSeen = samples.reduce((max, s) => Math.max(max, s.seenAt), 0);
  const convergeMs =
    outstanding > 0 || !Number.isFinite(lastSeen)
      ? Number.POSITIVE_INFINITY
      : Math.max(0, lastSeen - loadEnd);
  const latency = summariseSamples(samples);
  // Syncs that dovewarden's RENAME second pass or a late change still run are over by now.
  const dsyncRuns = session.sys.dsyncSessions() - dsyncBefore;
  const cpuAfter = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const step: ThroughputStep = {
    rate,
    seconds,
    users: session.users.length,
    sent,
    achievedRate: round(achievedRate),
    latency,
    convergeMs: round(convergeMs, 0),
    backlog,
    dsyncRuns,
    dsyncPerChange: round(dsyncRuns / Math.max(1, sent), 3),
    controllerCpuSeconds: round(cpuAfter - cpuBefore, 2),
    machineCpuSeconds: round(machineBusySeconds() - machineBefore, 1),
    keptUp: latency.p95 <= KEEP_UP_MS && convergeMs <= KEEP_UP_MS && latency.missing === 0,
  };
  progress(
    `${session.sys.id}: ${rate}/s for ${seconds} s: sent ${sent} (${step.achievedRate}/s), p50 ${latency.p50} ms, p95 ${latency.p95} ms, converged in ${step.convergeMs} ms, ${dsyncRuns} dsync runs${step.keptUp ? '' : ' (fell behind)'}`,
  );
  return step;
}
