import { createHash } from 'node:crypto';
import {
  AuthenticationError,
  ConnectionError,
  DoveadmError,
  NotFoundError,
  RequestTimeoutError,
  UnknownUserError,
} from '@dovewarden/doveadm-client';
import {
  type ReplicaDifference,
  type ReplicaSnapshot,
  type SnapshotSource,
  compareReplicas,
  mailboxesOf,
  readReplicaSnapshot,
} from '@dovewarden/shared';

export interface VerifyUserDeps {
  source: SnapshotSource;
  replica: SnapshotSource;
  /** Waits for the budget of one Doveadm call on each server. */
  budget: () => Promise<void>;
  /** 0–100: users whose message lists are compared although every status matches. */
  samplePercent: number;
  /** Changes which users a walk samples, so that every user is sampled now and then. */
  sampleSeed: string;
  /**
   * What both sides were when last found equal with their message lists (VerificationLedger):
   * when neither A's nor B's mailboxes changed since (their HIGHESTMODSEQs and counters hash to
   * the stored digest), the message lists are not read again.
   */
  digests?: {
    equalDigest(user: string): Promise<number | undefined>;
    storeEqualDigest(user: string, digest: number): Promise<void>;
  };
  signal?: AbortSignal;
}

/** What one verification of one user found. Only `differs` is a divergence. */
export type VerifyOutcome =
  | { result: 'equal'; messagesCompared: boolean }
  | {
      result: 'differs';
      differences: ReplicaDifference[];
      /**
       * B holds mail that A has under no UID of any mailbox: it may have been delivered to B
       * (a failover). Such a user is reported and never repaired by the verifier, since the
       * repair (a backup) would delete that mail; failback merges it into A.
       */
      replicaOnlyMail: boolean;
    }
  /** A or B did not answer (down, refused, timed out): counted, retried at the next pass. */
  | { result: 'unreachable'; detail: string }
  /** doveadm does not know the user on A or on B. */
  | { result: 'unknown-user'; detail: string }
  /** A mailbox vanished under the read again and again (a busy user): retried later. */
  | { result: 'vanished'; detail: string }
  /** An answer that could not be read (cut short, unexpected): counted, retried later. */
  | { result: 'error'; detail: string };

/**
 * Compares one user's replica with its source, cheap first: the folder tree, subscriptions and
 * every mailbox's status on both servers (one Doveadm request each). Message lists are read
 * only when those differ, or for a sample of users (a flag change shows in the lists alone).
 * Read failures are results of their own, never a divergence and never thrown.
 */
export async function verifyUser(deps: VerifyUserDeps, user: string): Promise<VerifyOutcome> {
  const read = async (messages: boolean): Promise<[ReplicaSnapshot, ReplicaSnapshot]> => {
    await deps.budget();
    const options = {
      messages,
      modseqs: true,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    };
    return Promise.all([
      readReplicaSnapshot(deps.source, user, options),
      readReplicaSnapshot(deps.replica, user, options),
    ]);
  };
  try {
    let [a, b] = await read(false);
    let differences = compareReplicas(user, a, b);
    const digest = differences.length === 0 ? digestOf(a, b) : undefined;
    const unchanged = digest !== undefined && (await deps.digests?.equalDigest(user)) === digest;
    if (unchanged && !sampled(user, deps.sampleSeed, deps.samplePercent)) {
      return { result: 'equal', messagesCompared: false };
    }
    [a, b] = await read(true);
    differences = compareReplicas(user, a, b);
    if (differences.length === 0) {
      if (digest !== undefined) await deps.digests?.storeEqualDigest(user, digest);
      return { result: 'equal', messagesCompared: true };
    }
    return { result: 'differs', differences, replicaOnlyMail: holdsMailOfItsOwn(a, b) };
  } catch (error: unknown) {
    return failure(error);
  }
}

/**
 * A hash of both sides' mailboxes as their statuses show them, HIGHESTMODSEQ included: any
 * change on either side (a flag, an expunge, new mail) changes it. 4 bytes, never 0.
 */
export function digestOf(a: ReplicaSnapshot, b: ReplicaSnapshot): number {
  const hash = createHash('sha1');
  for (const [side, snapshot] of [
    ['A', a],
    ['B', b],
  ] as const) {
    for (const mailbox of mailboxesOf(snapshot)) {
      hash.update(
        `${side}\0${mailbox.name}\0${mailbox.guid}\0${mailbox.uidvalidity}\0${mailbox.uidnext}\0${mailbox.messageCount}\0${mailbox.highestModseq ?? '?'}\n`,
      );
    }
  }
  return hash.digest().readUInt32BE(0) || 1;
}

/** Whether this user's message lists are read this walk although its statuses match. */
export function sampled(user: string, seed: string, percent: number): boolean {
  if (percent >= 100) return true;
  if (percent <= 0) return false;
  const digest = createHash('sha1').update(`${seed}\0${user}`).digest();
  return digest.readUInt32BE(0) % 100 < percent;
}

/** B holds a message that A has under no UID of any mailbox (read with message lists). */
function holdsMailOfItsOwn(a: ReplicaSnapshot, b: ReplicaSnapshot): boolean {
  const onA = new Set(mailboxesOf(a).flatMap((mailbox) => mailbox.messages.map((m) => m.guid)));
  const onlyOnB = mailboxesOf(b).flatMap((mailbox) =>
    mailbox.messages.filter((m) => !onA.has(m.guid)),
  );
  return onlyOnB.length > 0;
}

function failure(error: unknown): VerifyOutcome {
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof UnknownUserError) return { result: 'unknown-user', detail };
  if (error instanceof NotFoundError) return { result: 'vanished', detail };
  if (
    error instanceof ConnectionError ||
    error instanceof RequestTimeoutError ||
    error instanceof AuthenticationError ||
    (error instanceof DoveadmError && error.kind === 'temporary')
  ) {
    return { result: 'unreachable', detail };
  }
  return { result: 'error', detail };
}
