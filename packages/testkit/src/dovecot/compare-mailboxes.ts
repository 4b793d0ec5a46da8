import { setTimeout as sleep } from 'node:timers/promises';
import { type Bound, asBound, convergenceBound, report } from '../timing/calibration';
import { DovecotError } from './dovecot-error';
import type { DovecotServer } from './dovecot-server';

export interface MailboxSnapshot {
  messages: string;
  uidnext: string;
  uidvalidity: string;
  guid: string;
  /** Sorted message GUIDs. */
  messageGuids: string[];
}

export interface ComparisonResult {
  equal: boolean;
  differences: string[];
}

/** Rows of `doveadm -f tab`, keyed by its header line. */
function parseTab(output: string): Array<Record<string, string>> {
  const lines = output.split('\n').filter((l) => l.length > 0);
  const header = lines.shift()?.split('\t') ?? [];
  return lines.map((line) => {
    const cells = line.split('\t');
    return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']));
  });
}

/**
 * What one server holds for one user. A user without a home was never touched there (a replica
 * before its first sync): that is an empty snapshot, and doveadm is not run, because it would
 * create the INBOX and so plant the very GUID conflict the harness must avoid.
 */
export async function snapshotUser(
  server: DovecotServer,
  user: string,
): Promise<Map<string, MailboxSnapshot>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readSnapshot(server, user);
    } catch (error) {
      // `mailbox status *` lists the mailboxes, then looks each one up: a dsync that renames or
      // deletes a mailbox in between makes doveadm fail with "Mailbox doesn't exist" (exit 68).
      // That is a read racing a change, not a difference; the next read sees the new state.
      if (attempt >= SNAPSHOT_ATTEMPTS || !isMailboxVanished(error)) throw error;
      await sleep(50);
    }
  }
}

const SNAPSHOT_ATTEMPTS = 20;

function isMailboxVanished(error: unknown): boolean {
  return (
    error instanceof DovecotError &&
    error.code === 'DOVEADM_FAILED' &&
    error.exitCode === 68 &&
    error.message.includes("Mailbox doesn't exist")
  );
}

async function readSnapshot(
  server: DovecotServer,
  user: string,
): Promise<Map<string, MailboxSnapshot>> {
  const snapshot = new Map<string, MailboxSnapshot>();
  if (!server.hasHome(user)) return snapshot;
  const [status, fetched] = await Promise.all([
    server.doveadm([
      '-f',
      'tab',
      'mailbox',
      'status',
      '-u',
      user,
      'messages uidnext uidvalidity guid',
      '*',
    ]),
    server.doveadm(['-f', 'tab', 'fetch', '-u', user, 'mailbox guid', 'all']),
  ]);
  for (const row of parseTab(status)) {
    snapshot.set(row.mailbox ?? '', {
      messages: row.messages ?? '',
      uidnext: row.uidnext ?? '',
      uidvalidity: row.uidvalidity ?? '',
      guid: row.guid ?? '',
      messageGuids: [],
    });
  }
  for (const row of parseTab(fetched)) {
    snapshot.get(row.mailbox ?? '')?.messageGuids.push(row.guid ?? '');
  }
  for (const mailbox of snapshot.values()) mailbox.messageGuids.sort();
  return snapshot;
}

function diffGuids(user: string, mailbox: string, a: string[], b: string[]): string[] {
  // Multisets: one GUID may legitimately appear twice in a mailbox (a copy).
  const count = new Map<string, number>();
  for (const g of a) count.set(g, (count.get(g) ?? 0) + 1);
  for (const g of b) count.set(g, (count.get(g) ?? 0) - 1);
  const onlyA = [...count].filter(([, n]) => n > 0).map(([g]) => g);
  const onlyB = [...count].filter(([, n]) => n < 0).map(([g]) => g);
  const out: string[] = [];
  if (onlyA.length > 0) out.push(`${user} ${mailbox}: message GUIDs only on A: ${onlyA.join(' ')}`);
  if (onlyB.length > 0) out.push(`${user} ${mailbox}: message GUIDs only on B: ${onlyB.join(' ')}`);
  return out;
}

/**
 * Compares one user's mailboxes on A and B by what replication must preserve: messages, uidnext,
 * uidvalidity, mailbox GUID and message GUIDs. Not highestmodseq: it differs between replicas
 * even when their contents match.
 */
export async function compareMailboxes(
  a: DovecotServer,
  b: DovecotServer,
  user: string,
): Promise<ComparisonResult> {
  const [left, right] = await Promise.all([snapshotUser(a, user), snapshotUser(b, user)]);
  const differences: string[] = [];
  if (left.size > 0 && right.size === 0)
    differences.push(`${user}: no mailboxes on B (never synced?)`);
  if (right.size > 0 && left.size === 0) differences.push(`${user}: no mailboxes on A`);
  const names = [...new Set([...left.keys(), ...right.keys()])].sort();
  for (const name of names) {
    const ma = left.get(name);
    const mb = right.get(name);
    if (ma === undefined || mb === undefined) {
      if (left.size > 0 && right.size > 0)
        differences.push(`${user} ${name}: only on ${ma ? 'A' : 'B'}`);
      continue;
    }
    for (const field of ['messages', 'uidnext', 'uidvalidity', 'guid'] as const) {
      if (ma[field] !== mb[field])
        differences.push(`${user} ${name}: ${field} A=${ma[field]} B=${mb[field]}`);
    }
    differences.push(...diffGuids(user, name, ma.messageGuids, mb.messageGuids));
  }
  return { equal: differences.length === 0, differences };
}

/** compareMailboxes over several users at once. */
export async function compareUsers(
  a: DovecotServer,
  b: DovecotServer,
  users: readonly string[],
): Promise<ComparisonResult> {
  const results = await Promise.all(users.map((u) => compareMailboxes(a, b, u)));
  const differences = results.flatMap((r) => r.differences);
  return { equal: differences.length === 0, differences };
}

/**
 * Polls until A and B match for every user or the bound is up (by default convergenceBound:
 * 300 Doveadm API calls on A, measured once per test file), and returns the last comparison,
 * so a failing test shows what still differed.
 */
export async function waitForConvergence(
  a: DovecotServer,
  b: DovecotServer,
  users: readonly string[],
  bound?: Bound | number,
  intervalMs = 100,
): Promise<ComparisonResult> {
  const limit =
    bound === undefined ? await convergenceBound(a, users[0] ?? 'user1') : asBound(bound);
  const deadline = Date.now() + limit.ms;
  for (;;) {
    const result = await compareUsers(a, b, users);
    if (result.equal) return result;
    if (Date.now() >= deadline) {
      report(`waitForConvergence: A and B still differ after ${limit.why}\n`);
      return result;
    }
    await sleep(intervalMs);
  }
}
