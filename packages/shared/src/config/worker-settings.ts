import { type RawOptions, duration, invalid, positiveInt, withDefault } from './option-values';

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

export function workerSettings(raw: RawOptions): WorkerSettings {
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
