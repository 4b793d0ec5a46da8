import { randomUUID } from 'node:crypto';
import {
  COMPARE_AND_DELETE,
  COMPARE_AND_EXPIRE,
  type RedisClient,
  type StateKeys,
} from '@dovewarden/shared';

/** Where a sweep is; stored after every batch, so that a restarted scheduler goes on from it. */
export interface SweepCursor {
  /** When the sweep began (ms): its stale and full-sync bounds follow from it. */
  startedAt: number;
  /** Users whose last success is older than this are stale. */
  staleBefore: number;
  /** Users whose last full sync to a destination is older than this are due one. */
  fullBefore: number;
  /** The recorded outage this sweep catches up from, as stored; '' when none. */
  outage: string;
  /** Users of the listing passed so far. */
  position: number;
  /** The last user passed ('' at the start): finds the place again in a new listing. */
  lastUser: string;
  /** Users queued so far. */
  queued: number;
  queuedFull: number;
}

const CURSOR_FIELDS = [
  'startedAt',
  'staleBefore',
  'fullBefore',
  'outage',
  'position',
  'lastUser',
  'queued',
  'queuedFull',
] as const satisfies readonly (keyof SweepCursor)[];

/**
 * The background sweep's own state, apart from any user's: the lock that lets one scheduler
 * replica sweep at a time, and the cursor that lets a sweep cut short by a restart go on from
 * where it was.
 */
export class SweepState {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  /** Takes the sweep lock; undefined when another scheduler replica sweeps. */
  async acquireLock(ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    return (await this.redis.set(this.keys.sweepLock, token, 'PX', ttlMs, 'NX')) === 'OK'
      ? token
      : undefined;
  }

  async releaseLock(token: string): Promise<void> {
    await COMPARE_AND_DELETE.run(this.redis, { keys: [this.keys.sweepLock], args: [token] });
  }

  /** Extends the sweep lock while the sweep runs; false when it was lost to another replica. */
  async renewLock(token: string, ttlMs: number): Promise<boolean> {
    const renewed = await COMPARE_AND_EXPIRE.run(this.redis, {
      keys: [this.keys.sweepLock],
      args: [token, ttlMs],
    });
    return renewed === 1;
  }

  /** The cursor of a sweep cut short, or undefined when none is stored. */
  async readCursor(): Promise<SweepCursor | undefined> {
    const stored = await this.redis.hgetall(this.keys.sweepCursor);
    if (CURSOR_FIELDS.some((field) => stored[field] === undefined)) return undefined;
    const numberOf = (field: (typeof CURSOR_FIELDS)[number]): number => Number(stored[field]);
    const cursor: SweepCursor = {
      startedAt: numberOf('startedAt'),
      staleBefore: numberOf('staleBefore'),
      fullBefore: numberOf('fullBefore'),
      outage: stored['outage'] ?? '',
      position: numberOf('position'),
      lastUser: stored['lastUser'] ?? '',
      queued: numberOf('queued'),
      queuedFull: numberOf('queuedFull'),
    };
    const numbers = [
      cursor.startedAt,
      cursor.staleBefore,
      cursor.fullBefore,
      cursor.position,
      cursor.queued,
      cursor.queuedFull,
    ];
    // -Infinity is a valid bound ("no full sync by age"); NaN means a damaged hash.
    return numbers.some((value) => Number.isNaN(value)) ? undefined : cursor;
  }

  /** Stores the sweep's place; it lives as long as a sweep may pause between batches. */
  async writeCursor(cursor: SweepCursor, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.sweepCursor, { ...cursor })
      .pexpire(this.keys.sweepCursor, ttlMs)
      .exec();
  }

  async clearCursor(): Promise<void> {
    await this.redis.del(this.keys.sweepCursor);
  }
}
