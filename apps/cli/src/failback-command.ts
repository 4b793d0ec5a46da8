import { createInterface } from 'node:readline/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { DoveadmError } from '@dovewarden/doveadm-client';
import {
  type Config,
  type ReplicationState,
  type UserLease,
  createLogger,
  dsyncParameters,
  sourceDoveadmClient,
} from '@dovewarden/shared';
import { OperatorError, checkUsers, withConnection } from './operator-commands';

/**
 * The lease failback holds per user, renewed while its sync runs: as the worker's (its
 * BullMQ lock duration), so that a failback that dies frees the user as soon as a worker would.
 */
const LEASE_TTL_MS = 15_000;
const LEASE_POLL_MS = 250;

export interface FailbackOptions {
  all: boolean;
  yes: boolean;
}

export interface FailbackResult {
  ok: number;
  failed: number;
}

/** How the queue was found and left; printed after the users. */
type QueueNote = 'resumed' | 'was-paused' | 'kept-paused';

function reasonOf(error: unknown): string {
  if (error instanceof DoveadmError && error.kind === 'aborted') return 'interrupted';
  return error instanceof Error ? error.message : String(error);
}

async function confirmAll(count: number, yes: boolean, signal: AbortSignal): Promise<void> {
  if (yes) return;
  const question = `fail back ${count} user(s): a two-way sync that writes the replica's changes into the source`;
  if (process.stdin.isTTY !== true) throw new OperatorError(`${question}; confirm with --yes`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question}. Go on? [y/N] `, { signal }).catch(() => '');
    if (!/^y(es)?$/i.test(answer.trim())) throw new OperatorError('failback cancelled');
  } finally {
    prompt.close();
  }
}

/** Takes the user's lease, waiting up to `waitMs` while a worker's sync of that user holds it. */
async function takeLease(
  state: ReplicationState,
  user: string,
  waitMs: number,
  onLost: () => void,
  signal: AbortSignal,
): Promise<UserLease> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lease = await state.sessions.tryLease(user, LEASE_TTL_MS, onLost);
    if (lease !== undefined) return lease;
    if (Date.now() >= deadline) {
      throw new OperatorError(
        `another sync of this user still ran after ${Math.round(waitMs / 1000)} s; run failback for it again`,
      );
    }
    await sleep(LEASE_POLL_MS, undefined, { signal }).catch(() => {
      throw new OperatorError('interrupted');
    });
  }
}

/**
 * `dovewarden failback`: merges what the replica gained while it served users (failover) back
 * into the source, with one two-way full dsync per user and destination, then lets one-way
 * replication go on. Measured on 2.4.1, it brings the replica's new mail and flag changes
 * (set and removed) into the source; mail expunged on the replica comes back on both, since
 * without a two-way state dsync cannot tell an expunge there from new mail on the source. The replication queue is paused meanwhile, so no worker starts a one-way
 * sync that would undo the replica's changes; syncs already running finish, and each user's
 * lease keeps failback and a worker from syncing the same user at once. Lines go to `out` as
 * users finish.
 */
export async function failbackCommand(
  config: Config,
  users: readonly string[],
  options: FailbackOptions,
  out: (line: string) => void,
  signal: AbortSignal,
): Promise<FailbackResult> {
  if (options.all === users.length > 0)
    throw new OperatorError('name users, or give --all, but not both');
  checkUsers(users);
  // The client first: a missing password is reported before anything is paused.
  const client = sourceDoveadmClient(config);
  try {
    let targets = users;
    if (options.all) {
      targets = await client.listUsers('*', { signal });
      checkUsers(targets);
      await confirmAll(targets.length, options.yes, signal);
    }
    const dsync = { ...dsyncParameters(config), onewaySync: false, backup: false };
    const logger = createLogger(config.logLevel, { silent: true });
    // A worker's sync of a user lasts at most one Doveadm API call per run; past that (plus
    // the lease's own life, should its worker have died) the user is reported, not waited on.
    const leaseWaitMs = config.doveadm.timeoutMs + LEASE_TTL_MS;

    const { replicateAndRecord } = await import('@dovewarden/worker');
    return await withConnection(config, async ({ state, syncQueue }) => {
      const queue: Queue = syncQueue.queue;
      let note: QueueNote = 'was-paused';
      const result: FailbackResult = { ok: 0, failed: 0 };
      const pausedBefore = await queue.isPaused();
      if (!pausedBefore) {
        await queue.pause();
        note = 'kept-paused';
        out('replication paused: running syncs finish, no new one starts');
      }
      for (const [index, user] of targets.entries()) {
        if (signal.aborted) {
          result.failed += targets.length - index;
          out(`interrupted: ${targets.length - index} user(s) not failed back`);
          break;
        }
        const leaseLost = new AbortController();
        let lease: UserLease | undefined;
        try {
          lease = await takeLease(state, user, leaseWaitMs, () => leaseLost.abort(), signal);
          const startedAt = Date.now();
          const outcome = await replicateAndRecord(
            {
              doveadm: client,
              dsync,
              state,
              destinations: config.doveadm.destinations,
              logger,
              stateTtlMs: config.worker.stateTtlMs,
              fullSyncIntervalMs: 0,
            },
            // A full sync, without the stored state: that state comes from one-way syncs,
            // and an incremental two-way sync with it moved nothing from the replica
            // (measured on 2.4.1: neither its new mail nor its flag changes).
            { user, reason: { kind: 'manual' }, requestedAt: Date.now(), fullSync: true },
            AbortSignal.any([signal, leaseLost.signal]),
          );
          // Recorded as the worker records a success (the user is no longer failed). Its lease
          // goes below: failback claimed no request for the user to settle.
          // What B held of its own is on A now: the backup mode may mirror this user again.
          await state.replicaService.forgetChangesBefore(user, startedAt);
          out(
            `${user}: ok${outcome.runs > outcome.destinations.length ? ` (${outcome.runs} runs: mailboxes changed during the sync)` : ''}`,
          );
          result.ok += 1;
        } catch (error: unknown) {
          out(
            `${user}: failed: ${leaseLost.signal.aborted ? 'lost the user lease' : reasonOf(error)}`,
          );
          result.failed += 1;
        } finally {
          await lease?.release().catch(() => undefined);
        }
      }
      // Resumed only when this run paused the queue and every user made it: a one-way sync
      // of a user not failed back would undo what the replica holds.
      if (note === 'kept-paused' && result.failed === 0) {
        await queue.resume();
        note = 'resumed';
      }
      out(`failback: ${result.ok} ok, ${result.failed} failed`);
      if (note === 'resumed') out('replication resumed');
      else if (note === 'was-paused')
        out(
          'replication stays paused, as it was before: run "dovewarden resume" once users are back on the source',
        );
      else
        out(
          'replication stays paused, because not every user was failed back: run failback again for them, or "dovewarden resume" to give up on them',
        );
      return result;
    });
  } finally {
    client.close();
  }
}

/** `dovewarden pause`: workers finish the syncs they run and start no new one. */
export async function pauseCommand(config: Config): Promise<string> {
  return withConnection(config, async ({ syncQueue }) => {
    if (await syncQueue.queue.isPaused()) return 'replication was already paused\n';
    await syncQueue.queue.pause();
    const running = (await syncQueue.queue.getJobCounts('active'))['active'] ?? 0;
    return `replication paused: ${running} running sync(s) finish, no new one starts; events are still queued\n`;
  });
}

/** `dovewarden resume`: the queued syncs run again. */
export async function resumeCommand(config: Config): Promise<string> {
  return withConnection(config, async ({ syncQueue }) => {
    if (!(await syncQueue.queue.isPaused())) return 'replication was not paused\n';
    await syncQueue.queue.resume();
    return 'replication resumed\n';
  });
}
