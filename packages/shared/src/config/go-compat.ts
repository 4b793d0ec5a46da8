import type { AppRole } from './roles';
import type { Config } from './config';
import { parseDuration, parseDurationExact } from './duration';
import { OPTION_SPECS, type OptionName, optionLabel } from './options';
import { type OptionOfKind, type RawOptions, text } from './option-values';

/**
 * Values the Go dovewarden took that start here too, but mean something a little different or
 * odd: each gets a warning, so that an environment file carried over says where it changed.
 * Values with the same meaning get none, and values Go could not read (and silently replaced
 * by a default) are refused by the section builders instead.
 */
export function goCompatWarnings(raw: RawOptions, config: Config): string[] {
  const warnings: string[] = [];
  const { role } = config;

  // Go read this one variable with `== "true" || == "1"`, so "TRUE", "t" or "yes" turned
  // background replication off. They mean on (Go's own flag parser read TRUE and t as true).
  const enabled = text(raw, 'background-replication-enabled');
  if (enabled !== undefined && config.backgroundReplication.enabled && !isGoTrue(enabled)) {
    warnings.push(
      `${optionLabel('background-replication-enabled')} is ${JSON.stringify(enabled)}: read as true, where the Go dovewarden read it as false (it took only "true" and "1" from the environment)`,
    );
  }

  if (
    config.backgroundReplication.thresholdMs === 0 &&
    text(raw, 'background-replication-threshold') !== undefined &&
    runs(role, ['all', 'scheduler'])
  ) {
    warnings.push(
      `${optionLabel('background-replication-threshold')} is 0: no user is skipped, so every sweep queues every user; the Go dovewarden ignored 0 and kept 24h`,
    );
  }

  const redisAddr = text(raw, 'redis-addr');
  if (
    config.redisMode === 'inmemory' &&
    redisAddr !== undefined &&
    // Empty: Go's miniredis took any free port, as the embedded redis-server does.
    !['', OPTION_SPECS['redis-addr'].default].includes(redisAddr.trim()) &&
    runs(role, ['all'])
  ) {
    warnings.push(
      `${optionLabel('redis-addr')} is ${JSON.stringify(redisAddr)}, but inmemory mode does not use it: the embedded redis-server listens on a unix socket in ${optionLabel('data-dir')}, where the Go dovewarden served its in-memory Redis on this address`,
    );
  }

  if (config.numWorkers > config.worker.maxParallelSyncs && runs(role, ['all', 'worker'])) {
    warnings.push(
      `${optionLabel('num-workers')} is ${config.numWorkers}, but ${optionLabel('max-parallel-syncs')} lets only ${config.worker.maxParallelSyncs} syncs run at once across all workers (the Go dovewarden ran ${config.numWorkers}); raise it to match`,
    );
  }

  for (const option of DURATION_OPTIONS) {
    const given = text(raw, option);
    const exact = given === undefined ? undefined : parseDurationExact(given);
    const rounded = given === undefined ? undefined : parseDuration(given);
    if (exact !== undefined && rounded !== undefined && Math.abs(exact - rounded) > 1e-6) {
      warnings.push(
        `${optionLabel(option)} is ${JSON.stringify(given)}: rounded to ${rounded}ms, as dovewarden counts whole milliseconds`,
      );
    }
  }
  return warnings;
}

/** What the Go dovewarden's environment reading took as true. */
function isGoTrue(value: string): boolean {
  return value === 'true' || value === '1';
}

function runs(role: AppRole, roles: readonly AppRole[]): boolean {
  return roles.includes(role);
}

const DURATION_OPTIONS = (Object.keys(OPTION_SPECS) as OptionName[]).filter(
  (option): option is OptionOfKind<'duration'> => OPTION_SPECS[option].kind === 'duration',
);

/** Where buildConfig's warnings go unless the caller takes them: one line each on stderr. */
export function printConfigWarning(message: string): void {
  process.stderr.write(`dovewarden: warning: ${message}\n`);
}
