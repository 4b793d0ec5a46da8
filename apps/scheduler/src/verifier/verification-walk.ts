import { setTimeout as sleep } from 'node:timers/promises';
import type {
  DifferingUser,
  Logger,
  ReplicaDifference,
  ReplicaDifferenceKind,
  VerificationLedger,
  WalkProgress,
} from '@dovewarden/shared';
import type { ListedUsers } from '../sweep';
import type { VerifyOutcome } from './verify-user';

/** What a verification counts, one per user and pass (`dovewarden_verify_users_total`). */
export type VerifyCount =
  | VerifyOutcome['result']
  /** Equal again after a repair. */
  | 'repaired'
  /** Still different after a full sync: reported once, with its evidence. */
  | 'unrepaired'
  /** Only mail on B alone differs: reported, kept. */
  | 'replica-only-mail'
  /** Its sync was queued or running: verified after it, at the end of the walk. */
  | 'skipped-busy'
  /** Never synced to B: reading it there would create its INBOX. */
  | 'skipped-never-synced';

export interface WalkDeps {
  listUsers: () => Promise<ListedUsers>;
  ledger: Pick<
    VerificationLedger,
    | 'acquireLock'
    | 'renewLock'
    | 'releaseLock'
    | 'currentWalk'
    | 'saveWalk'
    | 'finishWalk'
    | 'recordDiffering'
    | 'clearDiffering'
    | 'differing'
    | 'differingUsers'
    | 'sizeDigestsFor'
  >;
  verify: (user: string, sampleSeed: string) => Promise<VerifyOutcome>;
  /** The user's sync is queued or running. */
  isBusy: (user: string) => Promise<boolean>;
  /** The user was synced to B at least once. */
  wasReplicated: (user: string) => Promise<boolean>;
  /**
   * One step of a repair, under the user's lease (see startVerifier): `sync` runs the user's
   * own sync (the configured mode, from its stored state); `mirror` a full `doveadm backup`.
   * 'done' when it ran, 'busy' when a sync of the user holds the lease, 'refused' when it must
   * not run (a mirror for a user B served, or in two-way mode), 'failed' otherwise.
   */
  repair: (user: string, how: RepairStep) => Promise<RepairResult>;
  /** Live replication first: resolves once the replication queue has room. */
  waitForLiveWork: () => Promise<void>;
  onCount: (count: VerifyCount) => void;
  onDivergence: (kind: ReplicaDifferenceKind) => void;
  onProgress?: (progress: WalkProgress, listed: number) => void | Promise<void>;
  logger: Logger;
  /** How long the walk's end waits for the repairs it queued. Default 5 min. */
  repairWaitMs?: number;
  /** Poll of that wait. Default 500 ms. */
  repairPollMs?: number;
  lockTtlMs?: number;
  signal?: AbortSignal;
  now?: () => number;
}

export type RepairResult = 'done' | 'busy' | 'refused' | 'failed';
export type RepairStep = 'sync' | 'mirror';

export interface WalkResult {
  skipped: boolean;
  interrupted: boolean;
  listed: number;
  progress: WalkProgress | undefined;
}

export const VERIFY_LOCK_TTL_MS = 60_000;
const SAVE_EVERY = 20;
const EVIDENCE_LINES = 20;

/**
 * One verification walk over every user A lists, from where the last one stopped: each user
 * compared strictly (verifyUser), a difference recorded with its evidence and repaired by the
 * user's full sync, then verified again at the walk's end. Users whose sync is queued or
 * running are verified after it, at the end too. One walker at a time (a lock), resumable (a
 * cursor), paced by the caller's budget, and live replication first.
 */
export async function verificationWalk(deps: WalkDeps): Promise<WalkResult> {
  const now = deps.now ?? Date.now;
  const ttl = deps.lockTtlMs ?? VERIFY_LOCK_TTL_MS;
  const token = await deps.ledger.acquireLock(ttl);
  if (token === undefined)
    return { skipped: true, interrupted: false, listed: 0, progress: undefined };
  let lockLost = false;
  const renew = setInterval(() => {
    void deps.ledger.renewLock(token, ttl).then(
      (kept) => {
        if (!kept) lockLost = true;
      },
      () => undefined,
    );
  }, ttl / 4);
  renew.unref();
  try {
    const users = await deps.listUsers();
    await deps.ledger.sizeDigestsFor(users.length);
    const progress = await startingPoint(deps, users, now());
    const seed = String(progress.startedAt);
    const after = new Set<string>();
    const stopped = (): boolean => deps.signal?.aborted === true || lockLost;

    for (; progress.position < users.length; progress.position += 1) {
      if (stopped()) {
        await deps.ledger.saveWalk(progress);
        return { skipped: false, interrupted: true, listed: users.length, progress };
      }
      const [user] = users.slice(progress.position, progress.position + 1);
      if (user === undefined) continue;
      progress.lastUser = user;
      await deps.waitForLiveWork();
      const counted = await verifyOne(deps, user, seed, now, 'walk');
      count(progress, counted);
      if (counted === 'skipped-busy' || counted === 'differs') after.add(user);
      if ((progress.position + 1) % SAVE_EVERY === 0) {
        await deps.ledger.saveWalk({ ...progress, position: progress.position + 1 });
        await deps.onProgress?.(progress, users.length);
      }
    }
    // Users an earlier walk found different and this one did not reach (no longer listed, or
    // listed before the cursor of a resumed walk) are verified again too.
    for (const user of await deps.ledger.differingUsers()) {
      const known = await deps.ledger.differing(user);
      if (known !== undefined && known.at < progress.startedAt) after.add(user);
    }
    await verifyAfterRepairs(deps, [...after], seed, now, stopped);
    if (stopped()) {
      await deps.ledger.saveWalk(progress);
      return { skipped: false, interrupted: true, listed: users.length, progress };
    }
    await deps.ledger.finishWalk(progress, now());
    await deps.onProgress?.(progress, users.length);
    return { skipped: false, interrupted: false, listed: users.length, progress };
  } finally {
    clearInterval(renew);
    await deps.ledger.releaseLock(token).catch(() => undefined);
  }
}

/** The stored walk cut short, found again in today's list; or a new walk. */
async function startingPoint(
  deps: WalkDeps,
  users: ListedUsers,
  now: number,
): Promise<WalkProgress> {
  const stored = await deps.ledger.currentWalk();
  if (stored !== undefined) {
    // The list may have changed since: go on after the last user verified, wherever it is now.
    const [atPosition] = users.slice(stored.position - 1, stored.position);
    if (stored.position > 0 && atPosition !== stored.lastUser) {
      const found = users.indexOf(stored.lastUser);
      stored.position = found < 0 ? Math.min(stored.position, users.length) : found + 1;
    }
    return stored;
  }
  const fresh: WalkProgress = {
    startedAt: now,
    position: 0,
    lastUser: '',
    checked: 0,
    equal: 0,
    differing: 0,
    skipped: 0,
    errors: 0,
  };
  await deps.ledger.saveWalk(fresh);
  return fresh;
}

function count(progress: WalkProgress, counted: VerifyCount): void {
  switch (counted) {
    case 'equal':
    case 'repaired':
      progress.checked += 1;
      progress.equal += 1;
      return;
    case 'differs':
    case 'unrepaired':
    case 'replica-only-mail':
      progress.checked += 1;
      progress.differing += 1;
      return;
    case 'skipped-busy':
    case 'skipped-never-synced':
      progress.skipped += 1;
      return;
    case 'unreachable':
    case 'unknown-user':
    case 'vanished':
    case 'error':
      progress.errors += 1;
  }
}

/**
 * Where a user's verification stands. `walk`: met in the walk (or at its end, `end`);
 * `synced`: after the repair's first step, the user's own sync; `mirrored`: after its second,
 * a backup of the user.
 */
type Stage = 'walk' | 'end' | 'synced' | 'mirrored';

/** Verifies one user and acts on what it finds. Returns what was counted. */
async function verifyOne(
  deps: WalkDeps,
  user: string,
  seed: string,
  now: () => number,
  stage: Stage,
): Promise<VerifyCount> {
  const tally = (counted: VerifyCount): VerifyCount => {
    deps.onCount(counted);
    return counted;
  };
  if (!(await deps.wasReplicated(user))) return tally('skipped-never-synced');
  if (await deps.isBusy(user)) return tally('skipped-busy');
  const outcome = await deps.verify(user, seed);
  const known = await deps.ledger.differing(user);
  if (outcome.result === 'equal') {
    const cleared = await deps.ledger.clearDiffering(user);
    const wasDifferent = cleared || stage === 'synced' || stage === 'mirrored';
    if (wasDifferent) {
      deps.logger.info('verification: replica equal to the source again', {
        user,
        differedSince: new Date(known?.since ?? now()).toISOString(),
      });
    }
    return tally(wasDifferent ? 'repaired' : 'equal');
  }
  if (outcome.result !== 'differs') {
    deps.logger.debug('verification could not compare the user', {
      user,
      result: outcome.result,
      detail: outcome.detail,
    });
    return tally(outcome.result);
  }
  // A change on A whose sync was queued while the servers were read: not a divergence, only
  // replication at work. Verified again after that sync.
  if (await deps.isBusy(user)) return tally('skipped-busy');
  const kinds: Partial<Record<ReplicaDifferenceKind, number>> = {};
  for (const difference of outcome.differences) {
    kinds[difference.kind] = (kinds[difference.kind] ?? 0) + 1;
    if (stage === 'walk' || stage === 'end') deps.onDivergence(difference.kind);
  }
  const finding: DifferingUser = {
    since: known?.since ?? now(),
    at: now(),
    kinds,
    evidence: evidence(outcome.differences),
    repairs: known?.repairs ?? 0,
    reported: known?.reported === true && sameFinding(known, kinds),
    replicaOnlyMail: outcome.replicaOnlyMail,
  };
  if (stage === 'end' && finding.repairs > 0) {
    // Repaired already in this walk, or in an earlier one: reported, and left to the next walk.
    return tally(await reportUnrepaired(deps, user, finding));
  }
  if (stage === 'mirrored') return tally(await reportUnrepaired(deps, user, finding));
  if (stage === 'synced' && outcome.replicaOnlyMail) {
    // Mail that may have been delivered to B, still there after the user's own sync: reported
    // once, never repaired away (a backup would delete it; failback merges it into A).
    if (!finding.reported) {
      deps.logger.warn('verification: the replica holds mail the source does not have; kept', {
        user,
        evidence: finding.evidence,
      });
      finding.reported = true;
    }
    await deps.ledger.recordDiffering(user, finding);
    return tally('replica-only-mail');
  }
  // First the user's own sync (what A changed without an event reaches B, A's expunges
  // included); then, only if B still differs and holds no mail of its own, a mirror of A.
  const how: RepairStep = stage === 'synced' ? 'mirror' : 'sync';
  if (how === 'sync') finding.repairs += 1;
  await deps.ledger.recordDiffering(user, finding);
  deps.logger.warn(`verification: replica differs from the source; repairing (${how})`, {
    user,
    kinds,
    evidence: finding.evidence.slice(0, 5),
  });
  const repaired = await deps.repair(user, how);
  if (repaired === 'done') {
    return verifyOne(deps, user, seed, now, how === 'sync' ? 'synced' : 'mirrored');
  }
  if (repaired === 'refused') return tally(await reportUnrepaired(deps, user, finding));
  // Busy or failed: verified again at the walk's end (busy), or at the next walk.
  return tally('differs');
}

/** Logs once, with the evidence, that the user stays different; counted as unrepaired. */
async function reportUnrepaired(
  deps: WalkDeps,
  user: string,
  finding: DifferingUser,
): Promise<VerifyCount> {
  if (!finding.reported) {
    deps.logger.error('verification: the replica stays different from the source', {
      user,
      repairs: finding.repairs,
      evidence: finding.evidence,
    });
    finding.reported = true;
  }
  await deps.ledger.recordDiffering(user, finding);
  return 'unrepaired';
}

/** Waits (bounded) for the syncs of users that were busy, then verifies those users. */
async function verifyAfterRepairs(
  deps: WalkDeps,
  users: string[],
  seed: string,
  now: () => number,
  stopped: () => boolean,
): Promise<void> {
  const deadline = now() + (deps.repairWaitMs ?? 300_000);
  let waiting = users;
  while (waiting.length > 0 && !stopped()) {
    const busy: string[] = [];
    for (const user of waiting) {
      if (stopped()) return;
      if (await deps.isBusy(user)) {
        busy.push(user);
        continue;
      }
      if ((await verifyOne(deps, user, seed, now, 'end')) === 'skipped-busy') busy.push(user);
    }
    if (busy.length === 0 || now() >= deadline) return;
    waiting = busy;
    await sleep(deps.repairPollMs ?? 500, undefined, { signal: deps.signal }).catch(
      () => undefined,
    );
  }
}

function evidence(differences: readonly ReplicaDifference[]): string[] {
  const lines = differences.slice(0, EVIDENCE_LINES).map((difference) => difference.text);
  if (differences.length > EVIDENCE_LINES) {
    lines.push(`… and ${differences.length - EVIDENCE_LINES} more`);
  }
  return lines;
}

function sameFinding(
  known: DifferingUser,
  kinds: Partial<Record<ReplicaDifferenceKind, number>>,
): boolean {
  return JSON.stringify(known.kinds) === JSON.stringify(kinds);
}
