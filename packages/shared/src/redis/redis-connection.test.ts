import { Cluster, Redis } from 'ioredis';
import { buildConfig } from '../config/config';
import {
  closeRedis,
  clusterOptions,
  createRedis,
  describeRedisTarget,
  redisOptions,
} from './redis-connection';

const external = { 'redis-mode': 'external' };

describe('createRedis', () => {
  it('keeps the single-server options as they were', () => {
    const target = buildConfig({ ...external }, 'ingest').redisAddr;
    expect(redisOptions(target, 'wait-for-redis', 'w')).toStrictEqual({
      host: 'localhost',
      port: 6379,
      username: undefined,
      password: undefined,
      db: 0,
      connectionName: 'w',
      connectTimeout: 2000,
      retryStrategy: expect.any(Function) as unknown,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
    });
    const producer = redisOptions(target, 'fail-fast', 'p');
    expect(producer).toMatchObject({
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      commandTimeout: 2000,
    });
    expect(Object.keys(producer)).not.toContain('sentinels');
    expect([1, 2, 3, 50].map((attempt) => producer.retryStrategy?.(attempt))).toEqual([
      100, 200, 250, 250,
    ]);
  });

  it('builds a Sentinel-backed connection from the options', async () => {
    const { redisAddr } = buildConfig(
      {
        ...external,
        'redis-addr': 'redis://:pw-master@unused:6379/1',
        'redis-sentinels': '127.0.0.1:1,127.0.0.1:2',
        'redis-sentinel-master': 'dw-master',
        'redis-sentinel-password': 'pw-sentinel',
      },
      'ingest',
    );
    // lazyConnect: a connect attempt would leave ioredis' connect timer running after the test.
    const redis = new Redis({
      ...redisOptions(redisAddr, 'wait-for-redis', 'dw-test'),
      lazyConnect: true,
    });
    try {
      expect(redis.options).toMatchObject({
        sentinels: [
          { host: '127.0.0.1', port: 1 },
          { host: '127.0.0.1', port: 2 },
        ],
        name: 'dw-master',
        sentinelPassword: 'pw-sentinel',
        password: 'pw-master',
        db: 1,
        connectionName: 'dw-test',
        maxRetriesPerRequest: null,
      });
      expect(redis.options.failoverDetector).toBe(false);
      const { reconnectOnError } = redis.options;
      expect(
        reconnectOnError?.(new Error("READONLY You can't write against a read only replica.")),
      ).toBe(2);
      expect(reconnectOnError?.(new Error('ERR something else'))).toBe(false);
    } finally {
      await closeRedis(redis);
    }
  });

  it('builds a Cluster with the same role semantics', async () => {
    const { redisAddr } = buildConfig(
      {
        ...external,
        'redis-addr': 'rediss://u:pw@unused:6379',
        'redis-cluster-nodes': '127.0.0.1:1',
      },
      'ingest',
    );
    expect(clusterOptions(redisAddr, 'fail-fast', 'p')).toMatchObject({
      enableOfflineQueue: false,
      redisOptions: {
        username: 'u',
        password: 'pw',
        tls: {},
        maxRetriesPerRequest: 1,
        commandTimeout: 2000,
        connectionName: 'p',
      },
    });
    const worker = clusterOptions(redisAddr, 'wait-for-redis', 'w');
    expect(worker).toMatchObject({ enableOfflineQueue: true });
    // BullMQ refuses a blocking Cluster connection unless its nodes retry forever.
    expect(worker.redisOptions?.maxRetriesPerRequest).toBeNull();
    const cluster = createRedis(redisAddr, 'fail-fast', 'p');
    cluster.on('error', () => undefined);
    try {
      expect(cluster).toBeInstanceOf(Cluster);
    } finally {
      await closeRedis(cluster);
    }
  });

  it('describes a target without its credentials', () => {
    const sentinel = buildConfig(
      {
        ...external,
        'redis-addr': 'redis://:secret@h:1',
        'redis-sentinels': 's1:26379,[::1]:26379',
      },
      'ingest',
    ).redisAddr;
    expect(describeRedisTarget(sentinel)).toBe(
      'Redis master "mymaster" via Sentinels s1:26379,[::1]:26379',
    );
    const cluster = buildConfig(
      { ...external, 'redis-cluster-nodes': 'n1:7000' },
      'ingest',
    ).redisAddr;
    expect(describeRedisTarget(cluster)).toBe('Redis Cluster n1:7000');
    expect(describeRedisTarget(buildConfig({ ...external }, 'ingest').redisAddr)).toBe(
      'Redis at localhost:6379',
    );
  });
});
