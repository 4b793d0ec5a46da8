import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { JobName, parseSyncUserJobData, userDedupId, usernameProblem } from './catalogue';
import { SyncQueue } from './sync-queue';

const AWKWARD_USERS = [
  'user1',
  'user1@example.com',
  'a:b',
  'first last',
  'jürgen.müller@bücher.de',
  '用户@例子.中国',
  '12345',
  '0',
  'a'.repeat(255),
  'é'.repeat(127),
  'u-user1',
  '%41',
  'A',
];

describe('userDedupId', () => {
  it('is injective, free of ":" and never all digits', () => {
    const ids = AWKWARD_USERS.map(userDedupId);
    expect(new Set(ids).size).toBe(AWKWARD_USERS.length);
    for (const id of ids) {
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
    // "A" and "%41" must not collide even though one decodes to the other.
    expect(userDedupId('A')).not.toBe(userDedupId('%41'));
  });
});

describe('usernameProblem', () => {
  it('accepts any name Dovecot can send and rejects what it cannot', () => {
    for (const user of AWKWARD_USERS) expect(usernameProblem(user)).toBeUndefined();
    expect(usernameProblem('')).toBe('empty');
    expect(usernameProblem('  ')).toBe('empty');
    expect(usernameProblem('a'.repeat(256))).toBe('too-long');
    expect(usernameProblem('é'.repeat(128))).toBe('too-long');
    expect(usernameProblem('a\nb')).toBe('control-characters');
    expect(usernameProblem(42)).toBe('not-a-string');
  });
});

describe('parseSyncUserJobData', () => {
  it('accepts valid data and rejects anything else', () => {
    const valid = { user: 'u', reason: { kind: 'imap', command: 'APPEND' }, requestedAt: 1 };
    expect(parseSyncUserJobData(valid)).toEqual(valid);
    expect(parseSyncUserJobData({ ...valid, reason: { kind: 'imap' } })).toBeUndefined();
    expect(parseSyncUserJobData({ ...valid, reason: { kind: 'nope' } })).toBeUndefined();
    expect(parseSyncUserJobData({ ...valid, user: '' })).toBeUndefined();
    expect(parseSyncUserJobData({ ...valid, fullSync: 'yes' })).toBeUndefined();
    expect(parseSyncUserJobData(null)).toBeUndefined();
  });
});

describe('SyncQueue against real Redis', () => {
  const namespace = `dwtest-catalogue-${randomBytes(4).toString('hex')}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const queue = new SyncQueue(redis, namespace);

  afterAll(async () => {
    await queue.queue.obliterate({ force: true });
    await queue.close();
    await redis.quit();
  });

  it('keeps one pending job per user for every awkward username', async () => {
    for (const user of AWKWARD_USERS) {
      await queue.enqueue({ user, reason: { kind: 'manual' }, requestedAt: Date.now() });
      await queue.enqueue({ user, reason: { kind: 'background' }, requestedAt: Date.now() });
    }
    const jobs = await queue.queue.getJobs(['waiting', 'prioritized']);
    expect(jobs.map((job) => (job.data as { user: string }).user).sort()).toEqual(
      [...AWKWARD_USERS].sort(),
    );
    for (const job of jobs) expect(job.name).toBe(JobName.SyncUser);
  });
});
