import {
  type RawOptions,
  bool,
  duration,
  invalid,
  positiveInt,
  withDefault,
} from './option-values';

export interface VerifySettings {
  readonly enabled: boolean;
  readonly intervalMs: number;
  /** Doveadm calls per second on A, and as many on B. */
  readonly callsPerSecond: number;
  /** 0–100: users whose message lists are read although every mailbox status matches. */
  readonly samplePercent: number;
}

function percent(raw: RawOptions): number {
  const value = withDefault(raw, 'verify-sample-percent').trim();
  if (!/^\d+$/.test(value) || Number(value) > 100) {
    throw invalid('verify-sample-percent', 'an integer from 0 to 100', value);
  }
  return Number(value);
}

export function verifySettings(raw: RawOptions): VerifySettings {
  return {
    enabled: bool(raw, 'verify-enabled'),
    intervalMs: duration(raw, 'verify-interval', false),
    callsPerSecond: positiveInt(raw, 'verify-calls-per-second', 1000),
    samplePercent: percent(raw),
  };
}
