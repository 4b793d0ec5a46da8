import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
    expect(await script.run(redis, { keys: [key], args: ['!'] })).toBe('1!');
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(redis, { keys: [key], args: ['?'] })).toBe('2?');
  });

  it('passes the script’s own errors through', async () => {
    const failing = new LuaScript(`return redis.call('INCR', KEYS[1], 'too', 'many')`);
    await expect(failing.run(redis, { keys: [key], args: [] })).rejects.toThrow(
      /wrong number of args/i,
    );
  });

  it('loads a script file with its fragments, and holds every call to its key count', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dw-lua-'));
    try {
      fs.mkdirSync(path.join(dir, 'includes'));
      fs.writeFileSync(
        path.join(dir, 'includes', 'twice.lua'),
        'local function twice(x) return x * 2 end\n',
      );
      fs.writeFileSync(
        path.join(dir, 'double-1.lua'),
        `-- ${key}\n--- @include "includes/twice"\n--- @include "includes/twice"\nreturn twice(tonumber(redis.call('INCRBY', KEYS[1], ARGV[1])))\n`,
      );
      const double = LuaScript.fromFile(dir, 'double-1.lua');
      expect(double.numberOfKeys).toBe(1);
      expect(double.source.match(/local function twice/g)).toHaveLength(1);
      await redis.del(key);
      // Many calls at once, the script unknown to Redis: each is sent again, once, with the text.
      expect(await redis.script('EXISTS', double.sha)).toEqual([0]);
      expect(
        await double.runMany(redis, [
          { keys: [key], args: [1] },
          { keys: [key], args: [1] },
        ]),
      ).toEqual([2, 4]);
      expect(await double.run(redis, { keys: [key], args: [3] })).toBe(10);
      await expect(double.run(redis, { keys: [key, key], args: [1] })).rejects.toThrow(
        /takes 1 keys/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
