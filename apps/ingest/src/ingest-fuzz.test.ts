import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import {
  SyncQueue,
  boundPort,
  closeHttp,
  createLogger,
  createRedis,
  listenHttp,
} from '@dovewarden/shared';
import { SHARED_REDIS, hangGuard } from '@dovewarden/testkit';
import { createIngestHandler } from './ingest-app';
import { IngestMetrics } from './ingest-metrics';
import { ingestSettings } from './__tests__/settings';

const REAL_EVENT = {
  event: 'imap_command_finished',
  hostname: 'vm',
  start_time: '2026-11-28T17:02:41.969439Z',
  end_time: '2026-11-28T17:02:41.978075Z',
  categories: ['service:imap', 'imap'],
  fields: {
    user: 'user1',
    cmd_name: 'APPEND',
    cmd_args: 'INBOX <176 byte literal>',
    tagged_reply_state: 'OK',
    mailbox: 'INBOX',
  },
};

/** Bodies: random bytes, random JSON, and real events with fields replaced by anything. */
const bodies = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc
    .record({
      event: fc.oneof(
        fc.constantFrom(
          'imap_command_finished',
          'mail_delivery_finished',
          'pop3_command_finished',
          'managesieve_command_finished',
        ),
        fc.anything(),
      ),
      end_time: fc.oneof(fc.constant(REAL_EVENT.end_time), fc.anything(), fc.double(), fc.string()),
      fields: fc.oneof(
        fc.record(
          {
            user: fc.oneof(
              fc.string({ maxLength: 300 }),
              fc.string({ unit: 'grapheme', maxLength: 80 }),
              fc.anything(),
            ),
            cmd_name: fc.oneof(
              fc.constantFrom('APPEND', 'FETCH', 'UID STORE', 'DELE', 'PUTSCRIPT', 'SELECT'),
              fc.anything(),
            ),
            cmd_args: fc.oneof(fc.constantFrom('1 (BODY[])', '1 RFC822', ''), fc.anything()),
            tagged_reply_state: fc.oneof(fc.constantFrom('OK', 'NO', 'BAD'), fc.anything()),
            mailbox: fc.anything(),
          },
          { requiredKeys: [] },
        ),
        fc.anything(),
      ),
    })
    .map((event) => JSON.stringify({ ...REAL_EVENT, ...event }) ?? '{}'),
  // A real event cut short or with a byte changed.
  fc.tuple(fc.nat(), fc.nat(255)).map(([at, byte]) => {
    const text = JSON.stringify(REAL_EVENT);
    const index = at % text.length;
    return at % 2 === 0
      ? text.slice(0, index)
      : text.slice(0, index) + String.fromCharCode(byte) + text.slice(index + 1);
  }),
);

function post(port: number, agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/events',
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('POST /events under fuzzing', () => {
  it(
    'answers 10,000 random and mutated bodies without a crash or a 5xx while Redis is up',
    async () => {
      const namespace = `dwtest-fuzz-${randomBytes(4).toString('hex')}`;
      const redis = createRedis(SHARED_REDIS, 'fail-fast', 'fuzz');
      const syncQueue = new SyncQueue(redis, namespace);
      const server = await listenHttp(
        createIngestHandler({
          syncQueue,
          replicaService: { noteServed: () => Promise.resolve() },
          redisReady: () => redis.status === 'ready',
          logger: createLogger('error', { silent: true }),
          metrics: new IngestMetrics(new Registry()),
          settings: ingestSettings(),
        }),
        { host: '127.0.0.1', port: 0 },
      );
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      const statuses = new Map<number, number>();
      try {
        await syncQueue.waitUntilReady();
        const samples = fc.sample(bodies, { numRuns: 10_000, seed: 20261128 });
        for (let start = 0; start < samples.length; start += 64) {
          const answers = await Promise.all(
            samples.slice(start, start + 64).map((body) => post(boundPort(server), agent, body)),
          );
          answers.forEach((status, index) => {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500 || status === 0) {
              throw new Error(
                `status ${status} for body ${JSON.stringify(samples[start + index]).slice(0, 300)}`,
              );
            }
          });
        }
        // The fuzzer must reach every branch, not just bounce off the parser.
        expect(statuses.get(202)).toBeGreaterThan(100);
        expect(statuses.get(204)).toBeGreaterThan(100);
        expect(statuses.get(400)).toBeGreaterThan(100);
        expect([...statuses.keys()].every((status) => [202, 204, 400].includes(status))).toBe(true);
      } finally {
        agent.destroy();
        await closeHttp(server, 1000);
        await syncQueue.queue.obliterate({ force: true });
        await syncQueue.close();
        await redis.quit();
      }
    },
    hangGuard(3000).ms,
  );
});
