import type { ListenAddress } from './address';
import { type AdminSettings, adminSettings } from './admin-settings';
import {
  type BackgroundReplicationSettings,
  backgroundReplicationSettings,
} from './background-settings';
import { type VerifySettings, verifySettings } from './verify-settings';
import {
  type DoveadmSettings,
  abandonedSyncWarning,
  doveadmSettings,
  requireDestination,
} from './doveadm-settings';
import { goCompatWarnings, printConfigWarning } from './go-compat';
import { type IngestSettings, ingestSettings } from './ingest-settings';
import { type RawOptions, listen, oneOf, positiveInt, withDefault } from './option-values';
import { type RedisSettings, redisSettings } from './redis-settings';
import { type AppRole, checkRoleRequirements } from './roles';
import { type WorkerSettings, workerSettings } from './worker-settings';

// The public names of the section files, so that '@dovewarden/shared' and '../config/config'
// offer what they always did. The value parsers (option-values.ts) stay internal.
export type { AdminSettings } from './admin-settings';
export type { BackgroundReplicationSettings } from './background-settings';
export type { VerifySettings } from './verify-settings';
export {
  type DoveadmSettings,
  SYNC_MODES,
  type SyncMode,
  hasDoveadmCredentials,
} from './doveadm-settings';
export type { IngestSettings } from './ingest-settings';
export type { RawOptions } from './option-values';
export { otelSettingsFromEnv } from './otel-settings';
export { REDIS_MODES, type RedisMode, type RedisSettings } from './redis-settings';
export { type AppRole, roleNeedsDoveadm } from './roles';
export type { WorkerSettings } from './worker-settings';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Config extends RedisSettings {
  readonly role: AppRole;
  readonly httpAddr: ListenAddress;
  readonly metricsAddr: ListenAddress;
  readonly numWorkers: number;
  readonly doveadm: DoveadmSettings;
  readonly worker: WorkerSettings;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly backgroundReplication: BackgroundReplicationSettings;
  /** The background verifier: compares B with A, user by user, and repairs what differs. */
  readonly verify: VerifySettings;
  readonly ingest: IngestSettings;
  readonly adminAddr: ListenAddress;
  readonly admin: AdminSettings;
  readonly dataDir: string;
}

/**
 * Validates raw option values into a typed config. Throws ConfigError naming the first bad
 * option. Pure apart from its warnings (values the Go dovewarden took in another sense, see
 * go-compat.ts), which go to onWarning, one line each on stderr unless the caller takes them.
 * No process.env, so it is easy to test. The order in which settings are read decides which
 * error comes first when several are bad; keep it when adding one.
 */
export function buildConfig(
  raw: RawOptions,
  role: AppRole,
  onWarning: (message: string) => void = printConfigWarning,
): Config {
  const redis = redisSettings(raw);
  const config: Config = {
    role,
    httpAddr: listen(raw, 'http-addr'),
    metricsAddr: listen(raw, 'metrics-addr'),
    ...redis,
    numWorkers: positiveInt(raw, 'num-workers', 1000),
    doveadm: doveadmSettings(raw),
    worker: workerSettings(raw),
    // `warning`, as Go's slog and syslog say it, is `warn`; the Go dovewarden also took `err`.
    logLevel: oneOf(raw, 'log-level', LOG_LEVELS, { warning: 'warn', err: 'error' }),
    logFormat: oneOf(raw, 'log-format', LOG_FORMATS),
    backgroundReplication: backgroundReplicationSettings(raw),
    verify: verifySettings(raw),
    ingest: ingestSettings(raw),
    adminAddr: listen(raw, 'admin-addr'),
    admin: adminSettings(raw),
    dataDir: withDefault(raw, 'data-dir'),
  };
  requireDestination(config.doveadm);
  checkRoleRequirements(config);
  for (const warning of goCompatWarnings(raw, config)) onWarning(warning);
  const warning = abandonedSyncWarning(config.doveadm);
  if (warning !== undefined) onWarning(warning);
  return config;
}
