import { type RedisTarget, parseListenAddress, parseRedisTarget } from './address';
import { ConfigError } from './config-error';
import { OPTION_SPECS, type OptionName, optionLabel } from './options';
import {
  type RawOptions,
  hostPortList,
  invalid,
  oneOf,
  optionalSecret,
  withDefault,
} from './option-values';

export const REDIS_MODES = ['inmemory', 'external'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

/** Where Redis is and which keys are ours; Config carries these fields at its top level. */
export interface RedisSettings {
  readonly redisMode: RedisMode;
  /** Where Redis is: one server, a Sentinel-watched master, or a Cluster (see RedisTarget). */
  readonly redisAddr: RedisTarget;
  /**
   * The prefix of every key, BullMQ's included: DOVEWARDEN_NAMESPACE, or "{namespace}" with
   * Redis Cluster. That hash tag puts all of dovewarden's keys in one slot, which BullMQ's
   * scripts and our own MULTI/EXEC and pipelines need; Cluster then adds failover, not spread.
   */
  readonly namespace: string;
}

export function redisSettings(raw: RawOptions): RedisSettings {
  const redisMode = oneOf(raw, 'redis-mode', REDIS_MODES);
  const redisAddr = redisTarget(raw, redisMode);
  const name = withDefault(raw, 'namespace').trim();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw invalid('namespace', '1 to 64 letters, digits, ".", "_" or "-"', name);
  }
  // Without Cluster the names stay as they always were, so existing data keeps working.
  const namespace = redisAddr.cluster === undefined ? name : `{${name}}`;
  return { redisMode, redisAddr, namespace };
}

/**
 * redis-addr, or Sentinels or Cluster nodes in its place. In those two cases the address part of
 * redis-addr goes unused, but a redis[s]:// URL there still gives the user, password and TLS.
 */
function redisTarget(raw: RawOptions, redisMode: RedisMode): RedisTarget {
  const redisText = withDefault(raw, 'redis-addr');
  const target = parseRedisTarget(redisText) ?? inmemoryListenAddress(redisText, redisMode);
  if (!target) {
    throw invalid('redis-addr', 'host:port or a redis:// URL', redisText);
  }
  const sentinels = hostPortList(raw, 'redis-sentinels');
  const clusterNodes = hostPortList(raw, 'redis-cluster-nodes');
  if (sentinels !== undefined && clusterNodes !== undefined) {
    throw new ConfigError(
      `invalid ${optionLabel('redis-sentinels')}: set it or ${optionLabel('redis-cluster-nodes')}, not both`,
      'redis-sentinels',
    );
  }
  const topology: OptionName | undefined =
    sentinels !== undefined
      ? 'redis-sentinels'
      : clusterNodes !== undefined
        ? 'redis-cluster-nodes'
        : undefined;
  if (topology !== undefined && redisMode === 'inmemory') {
    throw new ConfigError(
      `invalid ${optionLabel(topology)}: it needs ${optionLabel('redis-mode')} set to external; inmemory runs its own redis-server`,
      topology,
    );
  }
  if (sentinels !== undefined) {
    const masterName = withDefault(raw, 'redis-sentinel-master').trim();
    if (!/^\S+$/.test(masterName)) {
      throw invalid('redis-sentinel-master', 'the master name the Sentinels monitor', masterName);
    }
    return {
      ...target,
      sentinel: {
        nodes: sentinels,
        masterName,
        password: optionalSecret(raw, 'redis-sentinel-password'),
      },
    };
  }
  if (clusterNodes !== undefined) {
    if (target.db !== 0) {
      throw new ConfigError(
        `invalid ${optionLabel('redis-addr')}: Redis Cluster has only database 0, got /${target.db} (with ${optionLabel('redis-cluster-nodes')})`,
        'redis-addr',
      );
    }
    return { ...target, cluster: { nodes: clusterNodes } };
  }
  return target;
}

/**
 * In inmemory mode the Go dovewarden served its miniredis on redis-addr, so a listen address
 * such as ":6379" (or "" for any free port) was a valid value there. The embedded redis-server
 * here listens on a unix socket in the data dir and does not use redis-addr (a warning says so), so such a value is
 * taken, and the default target stands in for it.
 */
function inmemoryListenAddress(text: string, redisMode: RedisMode): RedisTarget | undefined {
  if (redisMode !== 'inmemory') return undefined;
  if (text.trim() !== '' && parseListenAddress(text) === undefined) return undefined;
  return parseRedisTarget(OPTION_SPECS['redis-addr'].default);
}
