import { createHash, randomUUID } from 'node:crypto';
import { COMPARE_AND_DELETE, COMPARE_AND_EXPIRE } from '../redis/compare-and-delete';
import type { RedisClient } from '../redis/redis-connection';
import type { ReplicaDifferenceKind } from '../replica-comparison/replica-difference';

/**
 * What the background verifier keeps in Redis, all of it bounded whatever the number of users:
 * the walk in progress (a cursor, so that a restart goes on where it stopped), the summary of
 * the last finished walk, and the users known to differ with the evidence of each. Nothing per
 * user that is equal: at a million users a timestamp each would cost tens of MB, so "when was
 * this user last verified" is the walk's own time (see lastVerification).
 */
export class VerificationLedger {
  readonly #redis: RedisClient;
  readonly #walk: string;
  readonly #lastWalk: string;
  readonly #differing: string;
  readonly #details: string;
  readonly #lock: string;
  readonly #namespace: string;
  #digestSlots = MAX_DIGEST_SLOTS;

  constructor(redis: RedisClient, namespace: string) {
    this.#redis = redis;
    this.#walk = `${namespace}:verify:walk`;
    this.#lastWalk = `${namespace}:verify:last-walk`;
    this.#differing = `${namespace}:verify:differing`;
    this.#details = `${namespace}:verify:details`;
    this.#lock = `${namespace}:verify:lock`;
    this.#namespace = namespace;
  }

  get #digests(): string {
    return `${this.#namespace}:verify:digests:${this.#digestSlots}`;
  }

  /**
   * Sizes the digest string for this many users (four slots a user, a power of two, from 1,024
   * to 2^21), so that a small site does not hold 8 MiB for nothing. A new size starts empty
   * (the old string is dropped): each user's lists are read once more, then digested again.
   */
  async sizeDigestsFor(users: number): Promise<void> {
    const slots = Math.min(
      MAX_DIGEST_SLOTS,
      Math.max(1024, 2 ** Math.ceil(Math.log2(users * 4 || 1))),
    );
    if (slots === this.#digestSlots) return;
    const old = this.#digests;
    this.#digestSlots = slots;
    await this.#redis.del(old);
  }

  /** Every key this ledger writes, for tests and for `remove`. */
  get keys(): string[] {
    return [this.#walk, this.#lastWalk, this.#differing, this.#details, this.#lock, this.#digests];
  }

  // --- what both sides were when last found equal ------------------------------------------

  /**
   * The digest stored for the user when A and B were last found equal, message lists included
   * (see verifyUser), or undefined. One 4-byte slot per hash of the username in one string
   * sized to the users (sizeDigestsFor): 8 MiB at most however many users. Two users sharing a slot overwrite each other,
   * which only costs a listing: a digest that does not match is never taken for equal.
   */
  async equalDigest(user: string): Promise<number | undefined> {
    const offset = digestSlot(user, this.#digestSlots) * 4;
    const bytes = await this.#redis.getrangeBuffer(this.#digests, offset, offset + 3);
    if (bytes.length < 4) return undefined;
    const value = bytes.readUInt32BE(0);
    return value === 0 ? undefined : value;
  }

  async storeEqualDigest(user: string, digest: number): Promise<void> {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(digest === 0 ? 1 : digest >>> 0, 0);
    await this.#redis.setrange(this.#digests, digestSlot(user, this.#digestSlots) * 4, bytes);
  }

  // --- one walker at a time ---------------------------------------------------------------

  async acquireLock(ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const set = await this.#redis.set(this.#lock, token, 'PX', ttlMs, 'NX');
    return set === 'OK' ? token : undefined;
  }

  /** False when the lock was lost (expired and taken by another scheduler replica). */
  async renewLock(token: string, ttlMs: number): Promise<boolean> {
    const renewed = await COMPARE_AND_EXPIRE.run(this.#redis, {
      keys: [this.#lock],
      args: [token, ttlMs],
    });
    return renewed === 1;
  }

  async releaseLock(token: string): Promise<void> {
    await COMPARE_AND_DELETE.run(this.#redis, { keys: [this.#lock], args: [token] });
  }

  // --- the walk ---------------------------------------------------------------------------

  /** The walk in progress (cut short by a restart, or running), or undefined. */
  async currentWalk(): Promise<WalkProgress | undefined> {
    return walkOf(await this.#redis.hgetall(this.#walk));
  }

  async saveWalk(progress: WalkProgress): Promise<void> {
    await this.#redis.hset(this.#walk, flatten(progress));
  }

  /** The walk reached the end of the user list: it becomes the last walk. */
  async finishWalk(progress: WalkProgress, finishedAt: number): Promise<void> {
    await this.#redis
      .multi()
      .del(this.#lastWalk)
      .hset(this.#lastWalk, { ...flatten(progress), finishedAt: String(finishedAt) })
      .del(this.#walk)
      .exec();
  }

  async lastWalk(): Promise<(WalkProgress & { finishedAt: number }) | undefined> {
    const stored = await this.#redis.hgetall(this.#lastWalk);
    const walk = walkOf(stored);
    const finishedAt = Number(stored['finishedAt']);
    return walk === undefined || !Number.isFinite(finishedAt) ? undefined : { ...walk, finishedAt };
  }

  // --- users that differ -----------------------------------------------------------------

  /** Records what the user's latest verification found different; keeps when it first did. */
  async recordDiffering(user: string, finding: DifferingUser): Promise<void> {
    await this.#redis
      .multi()
      .zadd(this.#differing, 'NX', finding.since, user)
      .hset(this.#details, user, JSON.stringify(finding))
      .exec();
  }

  /** The user was found equal: it no longer differs. True when it did before. */
  async clearDiffering(user: string): Promise<boolean> {
    const [[, removed] = [null, 0]] =
      (await this.#redis.multi().zrem(this.#differing, user).hdel(this.#details, user).exec()) ??
      [];
    return removed === 1;
  }

  async differing(user: string): Promise<DifferingUser | undefined> {
    const stored = await this.#redis.hget(this.#details, user);
    if (stored === null) return undefined;
    try {
      return JSON.parse(stored) as DifferingUser;
    } catch {
      return undefined;
    }
  }

  /** Users known to differ, the longest first. */
  async differingUsers(limit = 1000): Promise<string[]> {
    return this.#redis.zrange(this.#differing, 0, limit - 1);
  }

  differingCount(): Promise<number> {
    return this.#redis.zcard(this.#differing);
  }
}

/** 2^21 slots of 4 bytes: 8 MiB at most, for any number of users. */
const MAX_DIGEST_SLOTS = 2 ** 21;

function digestSlot(user: string, slots: number): number {
  return createHash('sha1').update(user).digest().readUInt32BE(0) % slots;
}

/** Where a walk is: its start, how far it got in the user list, and what it found so far. */
export interface WalkProgress {
  startedAt: number;
  /** Index in the user list of the next user to verify. */
  position: number;
  /** The user at position - 1, to find the place again if the list changed meanwhile. */
  lastUser: string;
  checked: number;
  equal: number;
  differing: number;
  skipped: number;
  errors: number;
}

/** What the verifier knows of a user that differs. */
export interface DifferingUser {
  /** When it was first found different (ms). */
  since: number;
  /** When it was last verified (ms). */
  at: number;
  /** Differences by kind at the last verification. */
  kinds: Partial<Record<ReplicaDifferenceKind, number>>;
  /** The first differences, as `dovewarden verify` prints them (at most 20). */
  evidence: string[];
  /** Full syncs queued to repair it so far. */
  repairs: number;
  /** Logged once as not repaired by a full sync: not logged again for the same finding. */
  reported: boolean;
  /** Only mail that is on B alone: reported and kept, never repaired away. */
  replicaOnlyMail: boolean;
}

const WALK_NUMBERS = [
  'startedAt',
  'position',
  'checked',
  'equal',
  'differing',
  'skipped',
  'errors',
] as const;

function walkOf(stored: Record<string, string>): WalkProgress | undefined {
  if (WALK_NUMBERS.some((field) => stored[field] === undefined)) return undefined;
  const number = (field: (typeof WALK_NUMBERS)[number]): number => Number(stored[field]);
  return {
    startedAt: number('startedAt'),
    position: number('position'),
    lastUser: stored['lastUser'] ?? '',
    checked: number('checked'),
    equal: number('equal'),
    differing: number('differing'),
    skipped: number('skipped'),
    errors: number('errors'),
  };
}

function flatten(progress: WalkProgress): Record<string, string> {
  return Object.fromEntries(Object.entries(progress).map(([key, value]) => [key, String(value)]));
}
