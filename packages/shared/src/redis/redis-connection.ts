import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/address';

/** A connection to one server, a Sentinel-watched master, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * What a command does while Redis is away.
 * fail-fast: answers fast or fails (ingest must answer Dovecot within its short timeout, and a
 *   503 right away beats a request that hangs until Dovecot gives up).
 * wait-for-redis: queues until Redis is back; BullMQ's workers need it (blocking commands,
 *   maxRetriesPerRequest null), and so do the admin, the scheduler and the operator commands.
 */
export type RedisRetryPolicy = 'fail-fast' | 'wait-for-redis';

/**
 * Reconnect forever, never faster than every 100 ms. A fail-fast connection never waits more than 250 ms
 * between tries: Dovecot retries a 503 only twice, a second apart, so ingest must be back within
 * about a second of Redis to lose no event. Workers may take up to 2 s.
 */
function reconnectDelay(policy: RedisRetryPolicy): (attempt: number) => number {
  return (attempt: number) => Math.min(100 * attempt, policy === 'fail-fast' ? 250 : 2000);
}

/** What the policy asks of each command, for a plain or Sentinel connection or a Cluster node. */
function policyOptions(policy: RedisRetryPolicy): RedisOptions {
  return policy === 'wait-for-redis'
    ? { maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 };
}

/** A master that became a replica refuses writes; reconnecting asks the Sentinels anew. */
function reconnectOnReadOnly(error: Error): 1 | 2 | false {
  // 2: reconnect and resend. A refused write changed nothing (a script stops at its first write).
  return error.message.startsWith('READONLY') ? 2 : false;
}

export function redisOptions(
  target: RedisTarget,
  policy: RedisRetryPolicy,
  name: string,
): RedisOptions {
  const { sentinel } = target;
  const common: RedisOptions = {
    ...(target.socket === undefined
      ? { host: target.host, port: target.port }
      : { path: target.socket }),
    username: target.username,
    password: target.password,
    db: target.db,
    connectionName: name,
    connectTimeout: 2000,
    retryStrategy: reconnectDelay(policy),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (sentinel === undefined) return { ...common, ...policyOptions(policy) };
  const sentinelPassword = sentinel.password?.reveal();
  return {
    ...common,
    ...policyOptions(policy),
    sentinels: sentinel.nodes.map(({ host, port }) => ({ host, port })),
    name: sentinel.masterName,
    ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
    // rediss:// means TLS everywhere, the Sentinels included.
    ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
    // No failoverDetector (+switch-master): in ioredis 5.11 it ended the connection for good
    // when the failover was announced while the client was reconnecting (seen in the Sentinel
    // e2e test). Redis drops the clients of a demoted master anyway, and a crashed one by dying.
    sentinelRetryStrategy: reconnectDelay(policy),
    reconnectOnError: reconnectOnReadOnly,
  };
}

/**
 * The Cluster's options. Role semantics as for one server: the offline queue is the Cluster's
 * (ioredis keeps it on for each node), and maxRetriesPerRequest and the command timeout are per
 * node, where BullMQ also looks for maxRetriesPerRequest null on a blocking connection.
 */
export function clusterOptions(
  target: RedisTarget,
  policy: RedisRetryPolicy,
  name: string,
): ClusterOptions {
  const { enableOfflineQueue, ...perNode } = policyOptions(policy);
  return {
    enableOfflineQueue,
    clusterRetryStrategy: reconnectDelay(policy),
    redisOptions: {
      username: target.username,
      password: target.password,
      connectionName: name,
      connectTimeout: 2000,
      ...(target.tls ? { tls: {} } : {}),
      ...perNode,
    },
  };
}

export function createRedis(
  target: RedisTarget,
  policy: RedisRetryPolicy,
  name: string,
): RedisClient {
  if (target.cluster !== undefined) {
    return new Cluster(
      target.cluster.nodes.map(({ host, port }) => ({ host, port })),
      clusterOptions(target, policy, name),
    );
  }
  return new Redis(redisOptions(target, policy, name));
}

/** For messages: where the connection goes, without credentials. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: readonly { host: string; port: number }[]): string =>
    nodes
      .map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`))
      .join(',');
  if (target.cluster !== undefined) return `Redis Cluster ${list(target.cluster.nodes)}`;
  if (target.sentinel !== undefined) {
    return `Redis master "${target.sentinel.masterName}" via Sentinels ${list(target.sentinel.nodes)}`;
  }
  if (target.socket !== undefined) return `Redis at unix socket ${target.socket}`;
  return `Redis at ${list([target])}`;
}

/** Readiness probe: true only when a PING round-trips now. */
export async function redisAnswers(redis: RedisClient): Promise<boolean> {
  if (redis.status !== 'ready') return false;
  try {
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  }
}

/** Waits until the connection is ready, or rejects after timeoutMs. */
export function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** quit() when connected, disconnect() otherwise: quit() on a dead link waits forever. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  redis.disconnect();
}
