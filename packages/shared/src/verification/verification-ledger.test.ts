import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { VerificationLedger } from './verification-ledger';

describe('VerificationLedger', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const ledger = new VerificationLedger(redis, `dwtest-ledger-${randomBytes(4).toString('hex')}`);

  afterAll(async () => {
    await redis.del(...ledger.keys);
    await redis.quit();
  });

  it('keeps a 4-byte digest per user in one bounded string, none for a user never stored', async () => {
    expect(await ledger.equalDigest('nobody@example.com')).toBeUndefined();
    await ledger.storeEqualDigest('u1@example.com', 0xdeadbeef);
    await ledger.storeEqualDigest('u2@example.com', 7);
    expect(await ledger.equalDigest('u1@example.com')).toBe(0xdeadbeef);
    expect(await ledger.equalDigest('u2@example.com')).toBe(7);
    // 0 means "none": a digest of 0 is stored as 1.
    await ledger.storeEqualDigest('u3@example.com', 0);
    expect(await ledger.equalDigest('u3@example.com')).toBe(1);
    const digests = ledger.keys.find((key) => key.includes(':verify:digests:')) ?? '';
    expect(await redis.strlen(digests)).toBeLessThanOrEqual(8 * 1024 * 1024);
    // Sized to the users: 50 users hold 1,024 slots (4 KiB), and a new size starts empty.
    await ledger.sizeDigestsFor(50);
    await ledger.storeEqualDigest('u1@example.com', 9);
    const small = ledger.keys.find((key) => key.includes(':verify:digests:')) ?? '';
    expect(await redis.strlen(small)).toBeLessThanOrEqual(4096);
    expect(await redis.exists(digests)).toBe(0);
    expect(await ledger.equalDigest('u1@example.com')).toBe(9);
    expect(await ledger.equalDigest('u2@example.com')).toBeUndefined();
  });

  it('records users that differ with their evidence, and forgets them once equal', async () => {
    await ledger.recordDiffering('d1', {
      since: 5,
      at: 6,
      kinds: { flags: 1 },
      evidence: ['d1 INBOX: UID 1 flags: \\Flagged only on B'],
      repairs: 1,
      reported: false,
      replicaOnlyMail: false,
    });
    expect(await ledger.differingUsers()).toEqual(['d1']);
    expect(await ledger.differing('d1')).toMatchObject({ since: 5, repairs: 1 });
    expect(await ledger.clearDiffering('d1')).toBe(true);
    expect(await ledger.clearDiffering('d1')).toBe(false);
    expect(await ledger.differingCount()).toBe(0);
  });
});
