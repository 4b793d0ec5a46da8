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
    const options = { messages, ...(deps.signal === undefined ? {} : { signal: deps.signal }) };
    return Promise.all([
      readReplicaSnapshot(deps.source, user, options),
      readReplicaSnapshot(deps.replica, user, options),
    ]);
  };
  try {
    let [a, b] = await read(false);
    let differences = compareReplicas(user, a, b);
    let messagesCompared = false;
    if (differences.length > 0 || sampled(user, deps.sampleSeed, deps.samplePercent)) {
      [a, b] = await read(true);
      differences = compareReplicas(user, a, b);
      messagesCompared = true;
    }
    if (differences.length === 0) return { result: 'equal', messagesCompared };
    return { result: 'differs', differences, replicaOnlyMail: holdsMailOfItsOwn(a, b) };
  } catch (error: unknown) {
    return failure(error);
  }
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
