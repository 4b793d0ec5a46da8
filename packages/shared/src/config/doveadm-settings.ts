import type { Secret } from './secret';
import {
  type RawOptions,
  bool,
  duration,
  httpUrl,
  invalid,
  list,
  oneOf,
  optionalSecret,
  text,
  withDefault,
} from './option-values';

/**
 * How dsync runs. `oneway` (dsync -1) only ever writes to the replica: a two-way sync that runs
 * while a client renames or deletes folders on the source can undo those changes there.
 * `twoway` is for sites that serve a user from both servers at once.
 */
export const SYNC_MODES = ['oneway', 'twoway'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export interface DoveadmSettings {
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
}

export function doveadmSettings(raw: RawOptions): DoveadmSettings {
  return {
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
  };
}

/**
 * An empty destination list is reported only once every other setting has been read (see
 * buildConfig), as it always was, so that the first error named stays the same.
 */
export function requireDestination(doveadm: DoveadmSettings): void {
  if (doveadm.destinations.length === 0) {
    throw invalid('doveadm-dest', 'a dsync destination such as tcp:replica:12345', '');
  }
}

export function hasDoveadmCredentials(config: { readonly doveadm: DoveadmSettings }): boolean {
  return config.doveadm.password !== undefined || config.doveadm.apiKey !== undefined;
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
