import type { AdminSettings } from './admin-settings';
import { ConfigError } from './config-error';
import { type DoveadmSettings, hasDoveadmCredentials } from './doveadm-settings';
import { optionLabel } from './options';
import type { RedisMode } from './redis-settings';

/** Which process is starting; it decides which settings are required. */
export type AppRole = 'all' | 'ingest' | 'worker' | 'scheduler' | 'verifier' | 'admin' | 'tool';

/** Roles that run syncs or list users, and so cannot work without doveadm credentials. */
export function roleNeedsDoveadm(role: AppRole): boolean {
  return role === 'worker' || role === 'scheduler' || role === 'verifier';
}

/**
 * The settings a role cannot start without. They are checked on the finished config, after
 * every value has been parsed, so that a bad value is named before a missing one.
 */
export function checkRoleRequirements(config: {
  readonly role: AppRole;
  readonly redisMode: RedisMode;
  readonly doveadm: DoveadmSettings;
  readonly admin: AdminSettings;
}): void {
  const { role } = config;
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
  if (config.redisMode === 'inmemory' && role !== 'all' && role !== 'tool') {
    throw new ConfigError(
      `invalid ${optionLabel('redis-mode')}: inmemory only works with "dovewarden all"; a separate ${role} process needs DOVEWARDEN_REDIS_MODE=external and a shared Redis`,
      'redis-mode',
    );
  }
}
