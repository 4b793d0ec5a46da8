import { parseDuration } from './duration';
import {
  type HostPort,
  type ListenAddress,
  type RedisTarget,
  parseHostPort,
  parseListenAddress,
  parseRedisTarget,
} from './address';
import { ConfigError } from './config-error';
import { OPTION_SPECS, type OptionName, type OptionSpec, optionLabel } from './options';
import { Secret } from './secret';
import { parseByteSize } from './byte-size';
import { type Cidr, parseCidr } from './cidr';
import { type UsernameFormat, parseUsernameFormat } from '../ingest/username-format';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const REDIS_MODES = ['inmemory', 'external'] as const;

/**
 * How dsync runs. `oneway` (dsync -1) only ever writes to the replica: a two-way sync that runs
 * while a client renames or deletes folders on the source can undo those changes there.
 * `twoway` is for sites that serve a user from both servers at once.
 */
export const SYNC_MODES = ['oneway', 'twoway'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];
export type RedisMode = (typeof REDIS_MODES)[number];

/** Which process is starting; it decides which settings are required. */
export type AppRole = 'all' | 'ingest' | 'worker' | 'scheduler' | 'admin' | 'tool';

export interface Config {
  readonly role: AppRole;
  readonly httpAddr: ListenAddress;
  readonly metricsAddr: ListenAddress;
  readonly redisMode: RedisMode;
  /** Where Redis is: one server, a Sentinel-watched master, or a Cluster (see RedisTarget). */
  readonly redisAddr: RedisTarget;
  /**
   * The prefix of every key, BullMQ's included: DOVEWARDEN_NAMESPACE, or "{namespace}" with
   * Redis Cluster. That hash tag puts all of dovewarden's keys in one slot, which BullMQ's
   * scripts and our own MULTI/EXEC and pipelines need; Cluster then adds failover, not spread.
   */
  readonly namespace: string;
  readonly numWorkers: number;
  readonly doveadm: {
    readonly url: string;
    readonly password: Secret | undefined;
    readonly apiKey: Secret | undefined;
    /** One or more dsync destinations; each user keeps one state per destination. */
    readonly destinations: readonly string[];
    /** Per Doveadm API call; dsync on A may go on after it, guarded by its own user lock. */
    readonly timeoutMs: number;
    readonly syncMode: SyncMode;
    /** dsync's user lock wait (lockTimeout), whole seconds; always sent, never 0. */
    readonly lockTimeoutSeconds: number;
    /** dsync -N: every visible namespace, not only the INBOX one. */
    readonly allNamespaces: boolean;
    /** The replica's own Doveadm API, for verify; undefined when not configured. */
    readonly replicaUrl: string | undefined;
    readonly replicaPassword: Secret | undefined;
  };
  readonly worker: WorkerSettings;
  readonly logLevel: LogLevel;
  readonly backgroundReplication: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly thresholdMs: number;
    /** Patterns of users never replicated by background passes. */
    readonly excludeUsers: readonly string[];
    readonly unknownUserRetryMs: number;
  };
  readonly ingest: IngestSettings;
  readonly adminAddr: ListenAddress;
  readonly admin: {
    readonly user: string;
    readonly password: Secret | undefined;
    readonly readOnly: boolean;
  };
  readonly dataDir: string;
}

export interface WorkerSettings {
  /** 0: never full sync by age. */
  readonly fullSyncIntervalMs: number;
  readonly stateTtlMs: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly retryAttempts: number;
  readonly maxParallelSyncs: number;
  readonly shutdownTimeoutMs: number;
}

export interface IngestSettings {
  /** Dovecot event names that may trigger a sync. */
  readonly events: ReadonlySet<string>;
  /** Upper-case command names per protocol. */
  readonly imapCommands: ReadonlySet<string>;
  readonly pop3Commands: ReadonlySet<string>;
  readonly managesieveCommands: ReadonlySet<string>;
  readonly usernameFormat: UsernameFormat;
  readonly bodyLimitBytes: number;
  /** Basic auth on POST /events; undefined when no password is set. */
  readonly auth: { readonly user: string; readonly password: Secret } | undefined;
  readonly allow: readonly Cidr[];
}

/** Raw values as yargs hands them over (flag, then env, then default). */
export type RawOptions = Partial<Record<OptionName, unknown>>;

function text(raw: RawOptions, option: OptionName): string | undefined {
  const value = raw[option];
  if (value === undefined || value === null) return undefined;
  // A flag given twice arrives as an array; the last one wins, as in most CLIs.
  const last: unknown = Array.isArray(value) ? value[value.length - 1] : value;
  if (typeof last === 'string') return last;
  if (typeof last === 'number' || typeof last === 'boolean') return String(last);
  throw new ConfigError(`invalid ${optionLabel(option)}: expected a single value`, option);
}

function withDefault(raw: RawOptions, option: OptionName): string {
  const spec: OptionSpec = OPTION_SPECS[option];
  const value = text(raw, option) ?? spec.default;
  if (value === undefined) {
    throw new ConfigError(`missing ${optionLabel(option)}`, option);
  }
  return value;
}

function invalid(option: OptionName, expected: string, got: string): ConfigError {
  return new ConfigError(
    `invalid ${optionLabel(option)}: expected ${expected}, got ${JSON.stringify(got)}`,
    option,
  );
}

function oneOf<T extends string>(raw: RawOptions, option: OptionName, allowed: readonly T[]): T {
  const value = withDefault(raw, option).trim().toLowerCase();
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw invalid(option, `one of ${allowed.join(', ')}`, value);
  return match;
}

function listen(raw: RawOptions, option: OptionName): ListenAddress {
  const value = withDefault(raw, option);
  const parsed = parseListenAddress(value);
  if (!parsed) throw invalid(option, 'an address such as :8080 or 127.0.0.1:8080', value);
  return parsed;
}

function duration(raw: RawOptions, option: OptionName, allowZero: boolean): number {
  const value = withDefault(raw, option);
  const parsed = parseDuration(value);
  if (parsed === undefined || (!allowZero && parsed === 0)) {
    throw invalid(
      option,
      `a ${allowZero ? '' : 'non-zero '}duration such as 90s, 1h or 1h30m`,
      value,
    );
  }
  return parsed;
}

function bool(raw: RawOptions, option: OptionName): boolean {
  const value = withDefault(raw, option).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw invalid(option, 'true or false', value);
}

function positiveInt(raw: RawOptions, option: OptionName, max: number): number {
  const value = withDefault(raw, option).trim();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw invalid(option, `an integer from 1 to ${max}`, value);
  }
  return Number(value);
}

function list(
  raw: RawOptions,
  option: OptionName,
  transform: (item: string) => string = (item) => item,
): string[] {
  return withDefault(raw, option)
    .split(',')
    .map((item) => transform(item.trim().replace(/\s+/g, ' ')))
    .filter((item) => item !== '');
}

/**
 * dsync's lock wait must end before our own wait for the answer does: otherwise we give up on
 * a sync that is only queued behind another one, and retry it while it still waits on A.
 */
function lockTimeoutSeconds(raw: RawOptions): number {
  const lockMs = duration(raw, 'sync-lock-timeout', false);
  if (lockMs % 1000 !== 0) {
    throw invalid(
      'sync-lock-timeout',
      'whole seconds, such as 30s',
      withDefault(raw, 'sync-lock-timeout'),
    );
  }
  const syncTimeoutMs = duration(raw, 'sync-timeout', false);
  if (lockMs >= syncTimeoutMs) {
    throw invalid(
      'sync-lock-timeout',
      `a duration shorter than --sync-timeout (${withDefault(raw, 'sync-timeout')})`,
      withDefault(raw, 'sync-lock-timeout'),
    );
  }
  return lockMs / 1000;
}

function workerSettings(raw: RawOptions): WorkerSettings {
  const retryBaseDelayMs = duration(raw, 'retry-base-delay', false);
  const retryMaxDelayMs = duration(raw, 'retry-max-delay', false);
  if (retryMaxDelayMs < retryBaseDelayMs) {
    throw invalid(
      'retry-max-delay',
      `a duration no shorter than --retry-base-delay`,
      withDefault(raw, 'retry-max-delay'),
    );
  }
  return {
    fullSyncIntervalMs: duration(raw, 'full-sync-interval', true),
    stateTtlMs: duration(raw, 'state-ttl', false),
    retryBaseDelayMs,
    retryMaxDelayMs,
    retryAttempts: positiveInt(raw, 'retry-attempts', 1000),
    maxParallelSyncs: positiveInt(raw, 'max-parallel-syncs', 10000),
    shutdownTimeoutMs: duration(raw, 'shutdown-timeout', true),
  };
}

function ingestSettings(raw: RawOptions): IngestSettings {
  const formatText = withDefault(raw, 'username-format');
  const usernameFormat = parseUsernameFormat(formatText);
  if (usernameFormat === undefined) {
    throw invalid(
      'username-format',
      'asis, or lowercase, localpart, domain:example.com joined by ","',
      formatText,
    );
  }
  const limitText = withDefault(raw, 'ingest-body-limit');
  const bodyLimitBytes = parseByteSize(limitText);
  if (bodyLimitBytes === undefined || bodyLimitBytes < 1024 || bodyLimitBytes > 64 * 1024 * 1024) {
    throw invalid('ingest-body-limit', 'a size from 1KiB to 64MiB, such as 64KiB', limitText);
  }
  const allow: Cidr[] = [];
  for (const item of list(raw, 'ingest-allow')) {
    const cidr = parseCidr(item);
    if (cidr === undefined)
      throw invalid('ingest-allow', 'addresses or CIDRs such as 10.0.0.0/8, comma-separated', item);
    allow.push(cidr);
  }
  const password = optionalSecret(raw, 'ingest-password');
  const upper = (item: string): string => item.toUpperCase();
  return {
    events: new Set(list(raw, 'events', (item) => item.toLowerCase())),
    imapCommands: new Set(list(raw, 'imap-commands', upper)),
    pop3Commands: new Set(list(raw, 'pop3-commands', upper)),
    managesieveCommands: new Set(list(raw, 'managesieve-commands', upper)),
    usernameFormat,
    bodyLimitBytes,
    auth: password === undefined ? undefined : { user: withDefault(raw, 'ingest-user'), password },
    allow,
  };
}

function optionalSecret(raw: RawOptions, option: OptionName): Secret | undefined {
  const value = text(raw, option);
  return value === undefined || value === '' ? undefined : new Secret(value);
}

function httpUrl(raw: RawOptions, option: OptionName): string {
  const value = withDefault(raw, option).trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(option, 'an http:// or https:// URL', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(option, 'an http:// or https:// URL', value);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      `invalid ${optionLabel(option)}: put the password in DOVEWARDEN_DOVEADM_PASSWORD, not in the URL`,
      option,
    );
  }
  return value.replace(/\/+$/, '');
}

/** A comma-separated host:port list; undefined when the option is unset or empty. */
function hostPortList(raw: RawOptions, option: OptionName): HostPort[] | undefined {
  const nodes = new Map<string, HostPort>();
  for (const item of (text(raw, option) ?? '').split(',')) {
    if (item.trim() === '') continue;
    const node = parseHostPort(item);
    if (node === undefined) {
      throw invalid(option, 'host:port pairs, comma-separated, such as 10.0.0.1:6379', item.trim());
    }
    nodes.set(`${node.host}:${node.port}`, node);
  }
  return nodes.size === 0 ? undefined : [...nodes.values()];
}

/**
 * redis-addr, or Sentinels or Cluster nodes in its place. In those two cases the address part of
 * redis-addr goes unused, but a redis[s]:// URL there still gives the user, password and TLS.
 */
function redisTarget(raw: RawOptions, redisMode: RedisMode): RedisTarget {
  const redisText = withDefault(raw, 'redis-addr');
  const target = parseRedisTarget(redisText);
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

/** Roles that run syncs or list users, and so cannot work without doveadm credentials. */
export function roleNeedsDoveadm(role: AppRole): boolean {
  return role === 'worker' || role === 'scheduler';
}

/**
 * Validates raw option values into a typed config. Throws ConfigError naming the first bad
 * option. Pure: no I/O, no process.env, so it is easy to test.
 */
export function buildConfig(raw: RawOptions, role: AppRole): Config {
  const redisMode = oneOf(raw, 'redis-mode', REDIS_MODES);
  const redisAddr = redisTarget(raw, redisMode);
  const name = withDefault(raw, 'namespace').trim();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw invalid('namespace', '1 to 64 letters, digits, ".", "_" or "-"', name);
  }
  // Without Cluster the names stay as they always were, so existing data keeps working.
  const namespace = redisAddr.cluster === undefined ? name : `{${name}}`;
  const config: Config = {
    role,
    httpAddr: listen(raw, 'http-addr'),
    metricsAddr: listen(raw, 'metrics-addr'),
    redisMode,
    redisAddr,
    namespace,
    numWorkers: positiveInt(raw, 'num-workers', 1000),
    doveadm: {
      url: httpUrl(raw, 'doveadm-url'),
      password: optionalSecret(raw, 'doveadm-password'),
      apiKey: optionalSecret(raw, 'doveadm-api-key'),
      destinations: [...new Set(list(raw, 'doveadm-dest'))],
      timeoutMs: duration(raw, 'sync-timeout', false),
      syncMode: oneOf(raw, 'sync-mode', SYNC_MODES),
      lockTimeoutSeconds: lockTimeoutSeconds(raw),
      allNamespaces: bool(raw, 'sync-all-namespaces'),
      replicaUrl:
        text(raw, 'replica-doveadm-url') === undefined
          ? undefined
          : httpUrl(raw, 'replica-doveadm-url'),
      replicaPassword: optionalSecret(raw, 'replica-doveadm-password'),
    },
    worker: workerSettings(raw),
    logLevel: oneOf(raw, 'log-level', LOG_LEVELS),
    backgroundReplication: {
      enabled: bool(raw, 'background-replication-enabled'),
      intervalMs: duration(raw, 'background-replication-interval', false),
      thresholdMs: duration(raw, 'background-replication-threshold', true),
      excludeUsers: list(raw, 'exclude-users'),
      unknownUserRetryMs: duration(raw, 'unknown-user-retry', true),
    },
    ingest: ingestSettings(raw),
    adminAddr: listen(raw, 'admin-addr'),
    admin: {
      user: withDefault(raw, 'admin-user'),
      password: optionalSecret(raw, 'admin-password'),
      readOnly: bool(raw, 'admin-read-only'),
    },
    dataDir: withDefault(raw, 'data-dir'),
  };
  if (config.doveadm.destinations.length === 0) {
    throw invalid('doveadm-dest', 'a dsync destination such as tcp:replica:12345', '');
  }
  if (roleNeedsDoveadm(role) && !hasDoveadmCredentials(config)) {
    throw new ConfigError(
      `missing ${optionLabel('doveadm-password')}: the ${role} cannot call the Doveadm API without it (or set ${optionLabel('doveadm-api-key')})`,
      'doveadm-password',
    );
  }
  if (role === 'admin' && config.admin.password === undefined) {
    throw new ConfigError(
      `missing ${optionLabel('admin-password')}: the admin UI changes what gets replicated, so it needs a password (only "dovewarden all" may run without one, on 127.0.0.1)`,
      'admin-password',
    );
  }
  if (redisMode === 'inmemory' && role !== 'all' && role !== 'tool') {
    throw new ConfigError(
      `invalid ${optionLabel('redis-mode')}: inmemory only works with "dovewarden all"; a separate ${role} process needs DOVEWARDEN_REDIS_MODE=external and a shared Redis`,
      'redis-mode',
    );
  }
  return config;
}

export function hasDoveadmCredentials(config: Config): boolean {
  return config.doveadm.password !== undefined || config.doveadm.apiKey !== undefined;
}

/**
 * Tracing follows the standard OTEL_* variables rather than DOVEWARDEN_* ones, so that the
 * usual collector set-up works as is. It is on when an exporter is named or an OTLP endpoint
 * is given, and OTEL_SDK_DISABLED is not true.
 */
export function otelSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  enabled: boolean;
  serviceName: string;
} {
  const exporter = env['OTEL_TRACES_EXPORTER'];
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const asked =
    (exporter !== undefined && exporter !== '' && exporter !== 'none') ||
    (endpoint !== undefined && endpoint !== '');
  return {
    enabled: asked && env['OTEL_SDK_DISABLED'] !== 'true',
    serviceName: env['OTEL_SERVICE_NAME'] ?? 'dovewarden',
  };
}

let cached: Config | undefined;

/** Stores the process's config once; later reads get the same object. */
export function setConfig(config: Config): Config {
  if (cached !== undefined && cached !== config) {
    throw new Error('config was already loaded for this process');
  }
  cached = config;
  return config;
}

export function getConfig(): Config {
  if (cached === undefined) throw new Error('config read before it was loaded');
  return cached;
}
