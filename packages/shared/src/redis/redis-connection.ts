import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/address';

/** A connection to one server, a Sentinel-watched master, or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * producer: answers fast or fails (ingest must answer Dovecot within its short timeout, and a
 *   503 right away beats a request that hangs until Dovecot gives up).
 * worker: waits for Redis to come back; BullMQ's blocking commands need maxRetriesPerRequest null.
 */
export type RedisRole = 'producer' | 'worker';

/**
 * Reconnect forever, never faster than every 100 ms. A producer never waits more than 250 ms
 * between tries: Dovecot retries a 503 only twice, a second apart, so ingest must be back within
 * about a second of Redis to lose no event. Workers may take up to 2 s.
 */
function reconnectDelay(role: RedisRole): (attempt: number) => number {
  return (attempt: number) => Math.min(100 * attempt, role === 'producer' ? 250 : 2000);
}

/** What the role asks of each command, for a plain or Sentinel connection or a Cluster node. */
function roleOptions(role: RedisRole): RedisOptions {
  return role === 'worker'
    ? { maxRetriesPerRequest: null, enableOfflineQueue: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2000 };
}

/** A master that became a replica refuses writes; reconnecting asks the Sentinels anew. */
function reconnectOnReadOnly(error: Error): 1 | 2 | false {
  // 2: reconnect and resend. A refused write changed nothing (a script stops at its first write).
  return error.message.startsWith('READONLY') ? 2 : false;
}

export function redisOptions(target: RedisTarget, role: RedisRole, name: string): RedisOptions {
  const { sentinel } = target;
  const common: RedisOptions = {
    host: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    db: target.db,
    connectionName: name,
    connectTimeout: 2000,
    retryStrategy: reconnectDelay(role),
    ...(target.tls ? { tls: {} } : {}),
  };
  if (sentinel === undefined) return { ...common, ...roleOptions(role) };
  const sentinelPassword = sentinel.password?.reveal();
  return {
    ...common,
    ...roleOptions(role),
    sentinels: sentinel.nodes.map(({ host, port }) => ({ host, port })),
    name: sentinel.masterName,
    ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
    // rediss:// means TLS everywhere, the Sentinels included.
    ...(target.tls ? { enableTLSForSentinelMode: true } : {}),
    // No failoverDetector (+switch-master): in ioredis 5.11 it ended the connection for good
    // when the failover was announced while the client was reconnecting (seen in the Sentinel
    // e2e test). Redis drops the clients of a demoted master anyway, and a crashed one by dying.
    sentinelRetryStrategy: reconnectDelay(role),
    reconnectOnError: reconnectOnReadOnly,
  };
}

/**
 * The Cluster's options. Role semantics as for one server: the offline queue is the Cluster's
 * (ioredis keeps it on for each node), and maxRetriesPerRequest and the command timeout are per
 * node, where BullMQ also looks for maxRetriesPerRequest null on a blocking connection.
 */
export function clusterOptions(target: RedisTarget, role: RedisRole, name: string): ClusterOptions {
  const { enableOfflineQueue, ...perNode } = roleOptions(role);
  return {
    enableOfflineQueue,
    clusterRetryStrategy: reconnectDelay(role),
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

export function createRedis(target: RedisTarget, role: RedisRole, name: string): RedisClient {
  if (target.cluster !== undefined) {
    return new Cluster(
      target.cluster.nodes.map(({ host, port }) => ({ host, port })),
      clusterOptions(target, role, name),
    );
  }
  return new Redis(redisOptions(target, role, name));
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
