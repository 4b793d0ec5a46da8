import { type RawOptions, bool, duration, list } from './option-values';

export interface BackgroundReplicationSettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
  readonly thresholdMs: number;
  /** Patterns of users never replicated by background passes. */
  readonly excludeUsers: readonly string[];
  readonly unknownUserRetryMs: number;
}

export function backgroundReplicationSettings(raw: RawOptions): BackgroundReplicationSettings {
  return {
    enabled: bool(raw, 'background-replication-enabled'),
    intervalMs: duration(raw, 'background-replication-interval', false),
    thresholdMs: duration(raw, 'background-replication-threshold', true),
    excludeUsers: list(raw, 'exclude-users'),
    unknownUserRetryMs: duration(raw, 'unknown-user-retry', true),
  };
}
