import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { BullMQOtel } from 'bullmq-otel';
import { Registry } from 'prom-client';
import { Readiness, SyncQueue, buildConfig, createLogger, createRedis } from '@dovewarden/shared';
import { startWorker } from './start-worker';

/** bullmq-otel 2 with bullmq 6: a job's add and its processing both leave spans. */
describe('tracing through bullmq-otel', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  beforeAll(() => trace.setGlobalTracerProvider(provider));
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
  });

  it('records spans for queueing and for running a sync', async () => {
    const namespace = `dwtest-otel-${randomBytes(4).toString('hex')}`;
    const config = buildConfig(
      { 'redis-mode': 'external', namespace, 'doveadm-password': 'unused' },
      'worker',
    );
    const telemetry = new BullMQOtel({ tracerName: 'dovewarden' });
    const synced: string[] = [];
    const worker = await startWorker(
      {
        config,
        logger: createLogger('error', { silent: true }),
        registry: new Registry(),
        readiness: new Readiness(),
        telemetry,
      },
      {
        doveadm: {
          sync: (user) => {
            synced.push(user);
            return Promise.resolve({ state: 's' });
          },
        },
      },
    );
    const producer = createRedis(config.redisAddr, 'fail-fast', 'otel-test');
    const queue = new SyncQueue(producer, namespace, { telemetry });
    try {
      await queue.enqueue({ user: 'traced', reason: { kind: 'manual' }, requestedAt: Date.now() });
      const deadline = Date.now() + 5000;
      while (synced.length === 0 && Date.now() < deadline) await sleep(20);
      await sleep(200);
      expect(synced).toEqual(['traced']);
      const names = exporter.getFinishedSpans().map((span) => span.name);
      expect(names.some((name) => name.startsWith('add'))).toBe(true);
      expect(names.some((name) => name.startsWith('process'))).toBe(true);
    } finally {
      await worker.stop();
      await queue.queue.obliterate({ force: true });
      await queue.close();
      await producer.quit();
    }
  });
});
