import { type RawOptions, bool, duration, invalid, list, withDefault } from './option-values';

export interface BackgroundReplicationSettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly thresholdMs: number;
  /** Patterns of users never replicated by background passes. */
  readonly excludeUsers: readonly string[];
  readonly unknownUserRetryMs: number;
  /**
   * Most background syncs waiting in the queue at once; 'auto' follows the sync slots (see the
   * scheduler), Infinity means no bound.
   */
  readonly maxPending: number | 'auto';
}

function maxPending(raw: RawOptions): number | 'auto' {
  const value = withDefault(raw, 'background-replication-max-pending').trim().toLowerCase();
  if (value === 'auto') return 'auto';
  if (!/^\d+$/.test(value) || Number(value) > 1_000_000) {
    throw invalid(
      'background-replication-max-pending',
      'auto, 0 or an integer up to 1000000',
      value,
    );
  }
  return Number(value) === 0 ? Number.POSITIVE_INFINITY : Number(value);
}

export function backgroundReplicationSettings(raw: RawOptions): BackgroundReplicationSettings {
  return {
    enabled: bool(raw, 'background-replication-enabled'),
    intervalMs: duration(raw, 'background-replication-interval', false),
    thresholdMs: duration(raw, 'background-replication-threshold', true),
    excludeUsers: list(raw, 'exclude-users'),
    unknownUserRetryMs: duration(raw, 'unknown-user-retry', true),
    maxPending: maxPending(raw),
  };
}
