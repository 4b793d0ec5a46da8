import { optionLabel } from './options';
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
 * `backup` (doveadm backup) writes to the replica alone too and makes it a mirror of the source,
 * removing what the source lacks. `twoway` is for sites that serve a user from both servers at
 * once.
 */
export const SYNC_MODES = ['oneway', 'backup', 'twoway'] as const;
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
  /**
   * dsync's own I/O timeout (`timeout`, -T), whole seconds, always sent: the sync timeout less
   * the lock wait and a margin, so that our wait for the answer outlasts dsync's own limits and
   * a dsync that goes silent ends on A before we give up on it (no abandoned dsync).
   */
  readonly dsyncTimeoutSeconds: number;
  /** The source's doveadm TCP listener (`tcp:HOST:PORT`) for syncs; undefined: the HTTP API. */
  readonly tcpAddr: string | undefined;
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
    dsyncTimeoutSeconds: dsyncTimeoutSeconds(raw),
    tcpAddr: tcpAddr(raw),
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

/**
 * What the HTTP or TCP answer needs beyond dsync's own limits: doveadm's process start, the
 * user lookup and the connection to the destination, before dsync's I/O timeout starts.
 */
export const DSYNC_TIMEOUT_MARGIN_SECONDS = 5;

/**
 * dsync's `timeout` such that lock wait + timeout + margin stays within the sync timeout; at
 * least 1 s (dsync's smallest). A sync timeout too short for that (below the lock wait plus
 * 6 s) still works, but an answer may then come after we stopped waiting: see
 * abandonedSyncWarning.
 */
function dsyncTimeoutSeconds(raw: RawOptions): number {
  const syncTimeoutMs = duration(raw, 'sync-timeout', false);
  const lockMs = duration(raw, 'sync-lock-timeout', false);
  return Math.max(1, Math.floor((syncTimeoutMs - lockMs) / 1000) - DSYNC_TIMEOUT_MARGIN_SECONDS);
}

/** `tcp:HOST:PORT` or `HOST:PORT` (IPv6 in brackets), as `tcp:HOST:PORT`. */
function tcpAddr(raw: RawOptions): string | undefined {
  const value = text(raw, 'doveadm-tcp-addr')?.trim();
  if (value === undefined || value === '') return undefined;
  const match = /^(?:tcp:)?(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535) {
    throw invalid('doveadm-tcp-addr', "tcp:HOST:PORT, A's doveadm TCP listener", value);
  }
  return `tcp:${match[1] ?? ''}:${port}`;
}

/** Start-up's warning when our wait cannot outlast dsync's lock wait and its own timeout. */
export function abandonedSyncWarning(doveadm: DoveadmSettings): string | undefined {
  const needed =
    (doveadm.lockTimeoutSeconds + doveadm.dsyncTimeoutSeconds + DSYNC_TIMEOUT_MARGIN_SECONDS) *
    1000;
  if (doveadm.timeoutMs >= needed) return undefined;
  return `${optionLabel('sync-timeout')} is shorter than the lock wait (${optionLabel('sync-lock-timeout')}) plus ${DSYNC_TIMEOUT_MARGIN_SECONDS + 1} s: a sync may be given up while its dsync still runs on the source, and the next sync then has to be a full one`;
}
