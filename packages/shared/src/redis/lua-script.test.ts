import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LuaScript } from './lua-script';

describe('LuaScript (real Redis)', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const key = `dwtest-lua-${randomBytes(4).toString('hex')}`;
  // A script no other test loads: Redis does not know it until the first call sends it.
  const script = new LuaScript(
    `-- ${key}\nredis.call('INCR', KEYS[1]) return redis.call('GET', KEYS[1]) .. ARGV[1]`,
  );

  afterAll(async () => {
    await redis.del(key);
    await redis.quit();
  });

  it('runs by its SHA1, sending the text only when Redis does not have it', async () => {
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run(redis, 1, key, '!')).toBe('1!');
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(redis, 1, key, '?')).toBe('2?');
  });

  it('passes the script’s own errors through', async () => {
    const failing = new LuaScript(`return redis.call('INCR', KEYS[1], 'too', 'many')`);
    await expect(failing.run(redis, 1, key)).rejects.toThrow(/wrong number of args/i);
  });
});
