import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection';

/**
 * A Lua script sent by its SHA1 (EVALSHA), and in full only when Redis does not know it yet
 * (after a restart or on a new cluster node). A hot script sent whole on every call costs the
 * controller the UTF-8 encoding and the write of its text each time, and Redis the hashing of
 * it: for the worker's per-sync scripts, about a tenth of its CPU per job.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, numberOfKeys, ...keysAndArgs);
    } catch (error: unknown) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.source, numberOfKeys, ...keysAndArgs);
    }
  }
}
