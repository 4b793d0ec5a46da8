import type * as http from 'node:http';
import type { DoveadmCredentials } from './http/authorization';

export interface DoveadmClientOptions extends DoveadmCredentials {
  /**
   * Base URL of the doveadm HTTP listener, e.g. `http://127.0.0.1:8080`. A path prefix is
   * kept; `/doveadm/v1` is appended unless the URL already ends with it. No credentials here.
   */
  url: string;
  /** Default time limit of one call, in ms. Default 120,000. */
  timeoutMs?: number;
  /** An http(s) Agent to share; by default the client creates its own keep-alive Agent. */
  agent?: http.Agent;
  /** Answers larger than this are refused rather than buffered. Default 512 MiB. */
  maxResponseBytes?: number;
}

export interface CallOptions {
  /** Cancels the call; it then rejects with an AbortedError. */
  signal?: AbortSignal;
  /** Time limit of this call, in ms, overriding the client's default. */
  timeoutMs?: number;
}

export interface SyncOptions extends CallOptions {
  /** Where to sync to, e.g. `tcp:replica:12345`. Must not be empty. */
  destination: string | readonly string[];
  /**
   * The state returned by the previous successful sync, or `""` when none is known. It is
   * always sent: without it Dovecot returns no new state.
   */
  state: string;
  /** Compare everything, not only what changed since `state`. */
  fullSync?: boolean;
  /**
   * Seconds to wait for dsync's per-user lock (the old replicator's `-l 30`). Without it dsync
   * takes no user lock, so two syncs of one user can run on the server side by side. A sync
   * that cannot get the lock in time fails with exit 75 (temporary).
   */
  lockTimeout?: number;
  /**
   * One-way sync (dsync `-1`): changes go from the source to the destination only, nothing is
   * ever written to the source, and mail that exists only on the destination is kept.
   */
  onewaySync?: boolean;
  /**
   * `doveadm backup` instead of `sync`: the destination is made an exact mirror of the source
   * (dsync's backup mode). It never writes to the source, and it removes from the destination
   * what the source lacks, mail that reached the destination alone included. Not with
   * `onewaySync`.
   */
  backup?: boolean;
  /** Sync every visible namespace (dsync `-N`), not only the INBOX namespace. */
  allNamespaces?: boolean;
  /** dsync's I/O timeout towards the destination, in seconds. */
  timeout?: number;
  /** Mailbox names or masks to leave out. */
  excludeMailbox?: readonly string[];
}

export interface SyncResult {
  /** Pass it as `state` to the next sync of this user. */
  state: string;
}

/** What `mailboxList()` lists. */
export interface MailboxListOptions extends CallOptions {
  /** Mailbox name or masks to match. Default `*`, every folder. */
  mask?: string | readonly string[];
  /** List the subscribed names instead of the folders (`doveadm mailbox list -s`). */
  subscriptions?: boolean;
}

/** Fields of `doveadm mailbox status`. `mailbox` is always returned and must not be asked for. */
export type MailboxStatusField =
  | 'messages'
  | 'recent'
  | 'uidnext'
  | 'uidvalidity'
  | 'unseen'
  | 'highestmodseq'
  | 'vsize'
  | 'guid'
  | 'firstsaved';

export const MAILBOX_STATUS_FIELDS: readonly MailboxStatusField[] = [
  'messages',
  'recent',
  'uidnext',
  'uidvalidity',
  'unseen',
  'highestmodseq',
  'vsize',
  'guid',
  'firstsaved',
];

/**
 * One mailbox's status. Doveadm sends every value as a string; they stay strings because
 * `highestmodseq` and `vsize` may exceed Number.MAX_SAFE_INTEGER.
 */
export type MailboxStatus<F extends MailboxStatusField> = { mailbox: string } & Record<F, string>;

/** One message as `doveadm fetch` returns it, keyed by the requested field names. */
export type FetchedMessage<F extends string> = Record<F, string>;

/**
 * One read of `readMany()`. Each changes nothing on the server, so a command that a batched
 * answer leaves out can be asked again on its own.
 */
export type DoveadmRead =
  | { mailboxList: { mask?: string | readonly string[]; subscriptions?: boolean } }
  | {
      mailboxStatus: {
        fields: readonly MailboxStatusField[];
        mask?: string | readonly string[];
      };
    }
  | { fetch: { fields: readonly string[]; query: readonly string[] } };

/** What one read yields: what the method of the same name returns. */
export type DoveadmReadResult<R> = R extends {
  mailboxStatus: { fields: readonly (infer F)[] };
}
  ? MailboxStatus<F & MailboxStatusField>[]
  : R extends { fetch: { fields: readonly (infer F)[] } }
    ? FetchedMessage<F & string>[]
    : R extends { mailboxList: unknown }
      ? string[]
      : never;

/**
 * Each read's outcome, settled as Promise.allSettled settles: the value, or the DoveadmError
 * that the method of the same name would have thrown for that command alone.
 */
export type DoveadmReadResults<Q extends Record<string, DoveadmRead>> = {
  [K in keyof Q]: PromiseSettledResult<DoveadmReadResult<Q[K]>>;
};
