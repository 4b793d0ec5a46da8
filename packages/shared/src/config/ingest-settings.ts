import { parseByteSize } from './byte-size';
import { type Cidr, parseCidr } from './cidr';
import type { Secret } from './secret';
import { type UsernameFormat, parseUsernameFormat } from '../ingest/username-format';
import {
  type RawOptions,
  duration,
  invalid,
  list,
  optionalSecret,
  positiveInt,
  withDefault,
} from './option-values';

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
  /**
   * Synchronous delivery replication (POST /sync-wait): undefined when off (timeout 0), else
   * how long one delivery may wait and how many may wait at once in this process.
   */
  readonly syncWait: { readonly timeoutMs: number; readonly maxWaiters: number } | undefined;
}

/** Longest sync-wait: every waiting delivery holds one of A's LMTP processes. */
const MAX_SYNC_WAIT_MS = 5 * 60 * 1000;

export function ingestSettings(raw: RawOptions): IngestSettings {
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
  const syncWaitMs = duration(raw, 'sync-wait-timeout', true);
  if (syncWaitMs > MAX_SYNC_WAIT_MS) {
    throw invalid(
      'sync-wait-timeout',
      '0 (off) or a duration up to 5m, such as 2s',
      withDefault(raw, 'sync-wait-timeout'),
    );
  }
  const maxWaiters = positiveInt(raw, 'sync-wait-max-waiters', 100_000);
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
    syncWait: syncWaitMs === 0 ? undefined : { timeoutMs: syncWaitMs, maxWaiters },
  };
}
