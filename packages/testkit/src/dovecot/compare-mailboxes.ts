import { setTimeout as sleep } from 'node:timers/promises';
import { DoveadmClient } from '@dovewarden/doveadm-client';
import {
  type ReplicaSnapshot,
  compareReplicas,
  emptySnapshot,
  readReplicaSnapshot,
} from '@dovewarden/shared';
import { type Bound, asBound, convergenceBound, hangGuard, report } from '../timing/calibration';
import type { DovecotServer } from './dovecot-server';

/** What one server holds for one user: the product's own snapshot (@dovewarden/shared). */
export type MailboxSnapshot = ReplicaSnapshot;

export interface ComparisonResult {
  equal: boolean;
  /** One line per difference, "user mailbox: what". */
  differences: string[];
}

/**
 * What one server holds for one user, read through its Doveadm HTTP API (Dovecot 2.4 and 2.3
 * alike) by the same reader `dovewarden verify` uses. A user without a home was never touched
 * there (a replica before its first sync): that is an empty snapshot, and doveadm is not asked,
 * because it would create the INBOX and so plant the very GUID conflict the harness must avoid.
 * A folder renamed or deleted while it is read is read again (readReplicaSnapshot).
 */
export async function snapshotUser(server: DovecotServer, user: string): Promise<MailboxSnapshot> {
  if (!server.hasHome(user)) return emptySnapshot();
  const client = new DoveadmClient({
    url: server.doveadmHttpUrl,
    password: server.doveadmPassword,
    // The same hang guard the doveadm CLI had here: the call itself takes ~100 ms.
    timeoutMs: hangGuard(750).ms,
  });
  try {
    return await readReplicaSnapshot(client, user);
  } finally {
    client.close();
  }
}

/**
 * Compares one user's folders on A and B with the product's strict comparison
 * (compareReplicas): the tree, mailbox GUID, UIDVALIDITY, UIDNEXT, count, which GUID each UID
 * holds and its flags, and the subscriptions. Not highestmodseq: it differs between replicas
 * even when their contents match.
 */
export async function compareMailboxes(
  a: DovecotServer,
  b: DovecotServer,
  user: string,
): Promise<ComparisonResult> {
  const [left, right] = await Promise.all([snapshotUser(a, user), snapshotUser(b, user)]);
  const differences = compareReplicas(user, left, right).map((difference) => difference.text);
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
