import { DoveadmClient, DoveadmTcpClient } from '@dovewarden/doveadm-client';
import type { Config } from '../config/config';
import { ConfigError } from '../config/config-error';
import { optionLabel } from '../config/options';
import { registerSecretValue } from '../logging/logger';

/** The source server's Doveadm API, with whichever credential is configured. */
export function sourceDoveadmClient(config: Config): DoveadmClient {
  const { url, password, apiKey } = config.doveadm;
  if (password === undefined && apiKey === undefined) {
    throw new ConfigError(
      `missing ${optionLabel('doveadm-password')} (or ${optionLabel('doveadm-api-key')})`,
      'doveadm-password',
    );
  }
  // Masked in logs even where a library error echoes it.
  if (password !== undefined) registerSecretValue(password.reveal());
  if (apiKey !== undefined) registerSecretValue(apiKey.reveal());
  return new DoveadmClient({
    url,
    timeoutMs: config.doveadm.timeoutMs,
    ...(password === undefined ? {} : { password: password.reveal() }),
    ...(apiKey === undefined ? {} : { apiKey: apiKey.reveal() }),
  });
}

/**
 * The replica's own Doveadm API, for verify. Its password defaults to the source's: dsync
 * between the two only works when both have the same doveadm_password anyway.
 */
export function replicaDoveadmClient(config: Config): DoveadmClient {
  const { replicaUrl, replicaPassword, password, apiKey } = config.doveadm;
  if (replicaUrl === undefined) {
    throw new ConfigError(
      `missing ${optionLabel('replica-doveadm-url')}: the replica's Doveadm API`,
      'replica-doveadm-url',
    );
  }
  const secret = replicaPassword ?? password;
  if (secret === undefined && apiKey === undefined) {
    throw new ConfigError(
      `missing ${optionLabel('replica-doveadm-password')}`,
      'replica-doveadm-password',
    );
  }
  if (secret !== undefined) registerSecretValue(secret.reveal());
  return new DoveadmClient({
    url: replicaUrl,
    timeoutMs: config.doveadm.timeoutMs,
    ...(secret === undefined ? {} : { password: secret.reveal() }),
    ...(secret === undefined && apiKey !== undefined ? { apiKey: apiKey.reveal() } : {}),
  });
}

const REPLICA_MAILBOX_TIMEOUT_MS = 60_000;

/**
 * What dovewarden reads and changes on a replica: the worker its folders and subscriptions,
 * never its messages; the verifier and `verify` read snapshots (readMany) to compare.
 */
export type ReplicaMailboxes = Pick<
  DoveadmClient,
  | 'readMany'
  | 'mailboxStatus'
  | 'mailboxList'
  | 'mailboxRename'
  | 'mailboxDelete'
  | 'mailboxUnsubscribe'
  | 'close'
>;

/**
 * The replicas' mailbox commands, each with its dsync destination: through the replica's
 * Doveadm API when one is configured (the first destination's replica),
 * otherwise through the doveadm service each `tcp:` destination is (dsync talks to it with the
 * same doveadm_password). Empty when neither can be reached (an API key alone, tcps:).
 */
export function replicaMailboxClients(
  config: Config,
): { client: ReplicaMailboxes; destination: string }[] {
  if (config.doveadm.replicaUrl !== undefined) {
    const destination = config.doveadm.destinations[0];
    return destination === undefined ? [] : [{ client: replicaDoveadmClient(config), destination }];
  }
  const password = config.doveadm.replicaPassword ?? config.doveadm.password;
  if (password === undefined) return [];
  registerSecretValue(password.reveal());
  return config.doveadm.destinations
    .filter((destination) => /^tcp:.+:\d+$/.test(destination))
    .map((destination) => ({
      destination,
      client: new DoveadmTcpClient({
        destination,
        password: password.reveal(),
        // Listing or renaming folders takes milliseconds; a hung replica must not hold the
        // user's lease for a whole sync timeout.
        timeoutMs: Math.min(config.doveadm.timeoutMs, REPLICA_MAILBOX_TIMEOUT_MS),
      }),
    }));
}

/** The dsync parameters every sync sends, whoever runs it (worker, failback). */
export interface DsyncParameters {
  /** dsync -1: the `oneway` sync mode. */
  onewaySync: boolean;
  /** doveadm backup instead of sync: the `backup` sync mode. */
  backup: boolean;
  /** Seconds; dsync's per-user lock keeps two syncs of one user apart on the server. */
  lockTimeout: number;
  /** Seconds; dsync's own I/O timeout, sent so that it ends before our wait does. */
  timeout: number;
  allNamespaces: boolean;
}

export function dsyncParameters(config: Config): DsyncParameters {
  return {
    onewaySync: config.doveadm.syncMode === 'oneway',
    backup: config.doveadm.syncMode === 'backup',
    lockTimeout: config.doveadm.lockTimeoutSeconds,
    timeout: config.doveadm.dsyncTimeoutSeconds,
    allNamespaces: config.doveadm.allNamespaces,
  };
}

/**
 * The client that runs syncs on the source through its doveadm TCP listener, when one is
 * configured: that protocol returns dsync's new state with an exit 2, which the HTTP API drops.
 * Undefined without DOVEADM_TCP_ADDR (syncs then go through the HTTP API).
 */
export function sourceSyncTcpClient(config: Config): DoveadmTcpClient | undefined {
  const { tcpAddr, password } = config.doveadm;
  if (tcpAddr === undefined) return undefined;
  if (password === undefined) {
    throw new ConfigError(
      `${optionLabel('doveadm-tcp-addr')} needs ${optionLabel('doveadm-password')}: the doveadm TCP protocol takes no API key`,
      'doveadm-password',
    );
  }
  registerSecretValue(password.reveal());
  return new DoveadmTcpClient({
    destination: tcpAddr,
    password: password.reveal(),
    timeoutMs: config.doveadm.timeoutMs,
  });
}

/**
 * The replica whose snapshots `verify` and the verifier read: its Doveadm API when
 * DOVEWARDEN_REPLICA_DOVEADM_URL is set, otherwise the doveadm service of the first `tcp:`
 * destination, the way dsync reaches it (same doveadm password): no setting beyond the defaults.
 */
export function replicaReader(config: Config): { client: ReplicaMailboxes; destination: string } {
  const [first] = replicaMailboxClients(config);
  if (first === undefined) {
    throw new ConfigError(
      `missing ${optionLabel('replica-doveadm-url')}: the replica cannot be read otherwise (no tcp: destination with the doveadm password)`,
      'replica-doveadm-url',
    );
  }
  return first;
}
