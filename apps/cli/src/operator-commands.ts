import type { DoveadmClient } from '@dovewarden/doveadm-client';
import {
  type AppConnection,
  type Config,
  ConfigError,
  EmbeddedRedis,
  OperatorActions,
  type UserStatus,
  connectApp,
  createLogger,
  describeRedisTarget,
  syncPriorityNamed,
  replicaDoveadmClient,
  sourceDoveadmClient,
  optionLabel,
  usernameProblem,
  waitForRedis,
} from '@dovewarden/shared';

/** An operator command failed for a reason the operator can act on: printed as one line. */
export class OperatorError extends Error {
  override readonly name = 'OperatorError';
  readonly code = 'ERR_OPERATOR';
}

/**
 * Runs `run` with a connection to dovewarden's Redis (external, or the running all-in-one's
 * embedded one) and its queues, and closes it afterwards. An unreachable Redis is one
 * OperatorError line.
 */
export async function withConnection<T>(
  config: Config,
  run: (connection: AppConnection) => Promise<T>,
): Promise<T> {
  const target =
    config.redisMode === 'external'
      ? config.redisAddr
      : EmbeddedRedis.runningTarget(config.dataDir);
  if (target === undefined) {
    throw new ConfigError(
      `no running "dovewarden all" found in ${optionLabel('data-dir')} ${config.dataDir}: start it, or point ${optionLabel('redis-mode')}=external at your Redis`,
    );
  }
  const connection = connectApp(
    { config, logger: createLogger(config.logLevel, { silent: true }) },
    'dovewarden-cli',
    'wait-for-redis',
    target,
  );
  try {
    await waitForRedis(connection.redis, 3000).catch(() => {
      throw new OperatorError(`${describeRedisTarget(target)} does not answer`);
    });
    return await run(connection);
  } finally {
    await connection.close();
  }
}

async function withActions<T>(
  config: Config,
  run: (actions: OperatorActions) => Promise<T>,
): Promise<T> {
  return withConnection(config, ({ state, syncQueue }) =>
    run(new OperatorActions(state, syncQueue, config.doveadm.destinations)),
  );
}

function when(ms: number | null): string {
  return ms === null ? 'never' : new Date(ms).toISOString();
}

function userTable(status: UserStatus): string {
  const rows: [string, string][] = [
    ['user', status.user],
    ['last success', when(status.lastSuccess)],
    ['last full sync', when(status.lastFullSync)],
    [
      'last failure',
      status.lastFailure === null
        ? 'none'
        : `${when(status.lastFailure.at)} ${status.lastFailure.code}${status.lastFailure.exitCode === null ? '' : ` (exit ${status.lastFailure.exitCode})`}: ${status.lastFailure.message}`,
    ],
    ['marked failed', status.failed ? 'yes' : 'no'],
    ['unknown to doveadm', status.unknownToDoveadm ? 'yes' : 'no'],
    [
      'queue',
      status.queue === null
        ? 'nothing pending'
        : `${status.queue.state} (priority ${status.queue.priority}, ${status.queue.attemptsMade} attempts made)`,
    ],
    ...status.destinations.map((entry): [string, string] => [
      `→ ${entry.destination}`,
      `last success ${when(entry.lastSuccess)}, last full ${when(entry.lastFullSync)}, state ${entry.hasState ? 'kept' : 'none'}`,
    ]),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return `${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`;
}

export function checkUsers(users: readonly string[]): void {
  for (const user of users) {
    const problem = usernameProblem(user);
    if (problem !== undefined)
      throw new OperatorError(`invalid username ${JSON.stringify(user)}: ${problem}`);
  }
}

export async function statusCommand(
  config: Config,
  user: string | undefined,
  json: boolean,
): Promise<string> {
  return withActions(config, async (actions) => {
    if (user !== undefined) {
      checkUsers([user]);
      const result = await actions.user(user);
      const known =
        result.lastSuccess !== null ||
        result.lastFailure !== null ||
        result.queue !== null ||
        result.failed ||
        result.unknownToDoveadm ||
        result.destinations.some((entry) => entry.hasState);
      if (!known) throw new OperatorError(`no replication record of user ${JSON.stringify(user)}`);
      return json ? `${JSON.stringify(result)}\n` : userTable(result);
    }
    const overall = await actions.overall(config.backgroundReplication.thresholdMs);
    const syncs = await actions.active();
    if (json) return `${JSON.stringify({ ...overall, syncs })}\n`;
    // First the lines of `doveadm replicator status`, as scripts parse them (mailcow's watchdog
    // reads "Waiting 'failed' requests"). Mapped: 'sync' has no counterpart (0); 'high' is new
    // mail and other live changes; 'low' background syncs; Queued 'failed' the syncs waiting to
    // be retried; Waiting 'failed' the users whose attempts are used up (marked failed).
    const replicator: [string, number][] = [
      ["Queued 'sync' requests", 0],
      ["Queued 'high' requests", overall.queuedByPriority.high + overall.queuedByPriority.normal],
      ["Queued 'low' requests", overall.queuedByPriority.low],
      ["Queued 'failed' requests", overall.delayed],
      ["Queued 'full resync' requests", 0],
      ["Waiting 'failed' requests", overall.usersMarkedFailed],
      ['Total number of known users', overall.usersKnown],
    ];
    const replicatorWidth = Math.max(...replicator.map(([label]) => label.length));
    const replicatorLines = replicator
      .map(([label, value]) => `${label.padEnd(replicatorWidth)} ${value}\n`)
      .join('');
    const rows: [string, number][] = [
      ['queued', overall.queued],
      ['running', overall.active],
      ['waiting to retry', overall.delayed],
      ['failed jobs', overall.failed],
      ['users known', overall.usersKnown],
      [
        `users not synced within ${Math.round(overall.thresholdMs / 3_600_000)}h`,
        overall.usersStale,
      ],
      ['users marked failed', overall.usersMarkedFailed],
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    const running = syncs.map((sync) => `  ${sync.user}  since ${when(sync.startedAt)}`).join('\n');
    return `${replicatorLines}\n${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n${running === '' ? '' : `running now:\n${running}\n`}`;
  });
}

/**
 * The running syncs, as `doveadm replicator dsync-status` lists them: user, type, destination,
 * since when. One row per destination of each running sync.
 */
export async function dsyncStatusCommand(config: Config, json: boolean): Promise<string> {
  return withActions(config, async (actions) => {
    const syncs = await actions.active();
    const rows = syncs.flatMap((sync) =>
      config.doveadm.destinations.map((destination) => ({
        user: sync.user,
        type: sync.type,
        destination,
        since: sync.startedAt,
      })),
    );
    if (json) return `${JSON.stringify({ syncs: rows })}\n`;
    const table: string[][] = [
      ['username', 'type', 'destination', 'since'],
      ...rows.map((row) => [row.user, row.type, row.destination, when(row.since)]),
    ];
    const widths =
      table[0]?.map((_, column) => Math.max(...table.map((r) => r[column]?.length ?? 0))) ?? [];
    return table
      .map(
        (row) =>
          `${row
            .map((cell, column) => cell.padEnd(widths[column] ?? 0))
            .join('  ')
            .trimEnd()}\n`,
      )
      .join('');
  });
}

export async function replicateCommand(
  config: Config,
  users: readonly string[],
  options: { all: boolean; full: boolean; priority: string },
): Promise<string> {
  const priority = syncPriorityNamed(options.priority);
  if (priority === undefined)
    throw new OperatorError(
      `invalid --priority ${JSON.stringify(options.priority)}: use high, normal or low`,
    );
  if (options.all === users.length > 0)
    throw new OperatorError('name users, or give --all, but not both');
  let targets = users;
  if (options.all) {
    const client = sourceDoveadmClient(config);
    try {
      targets = await client.listUsers('*');
    } finally {
      client.close();
    }
  }
  checkUsers(targets);
  await withActions(config, (actions) =>
    actions.replicate(targets, { full: options.full, priority }),
  );
  return `queued ${options.full ? 'a full' : 'a'} sync for ${targets.length} user(s)\n`;
}

export async function removeCommand(config: Config, user: string): Promise<string> {
  checkUsers([user]);
  const { removedJob } = await withActions(config, (actions) => actions.remove(user));
  return `removed ${user}: dsync states and marks dropped${removedJob ? ', pending sync removed' : ''}\n`;
}

const STATUS_FIELDS = ['messages', 'uidnext', 'uidvalidity', 'guid'] as const;

interface MailboxView {
  status: Record<(typeof STATUS_FIELDS)[number], string>;
  guids: string[];
}

async function mailboxView(client: DoveadmClient, user: string): Promise<Map<string, MailboxView>> {
  const [statuses, guids] = await Promise.all([
    client.mailboxStatus(user, STATUS_FIELDS, '*'),
    client.messageGuidsByMailbox(user),
  ]);
  const view = new Map<string, MailboxView>();
  for (const status of statuses) {
    view.set(status.mailbox, { status, guids: [...(guids.get(status.mailbox) ?? [])].sort() });
  }
  return view;
}

/** What `verify` found: the differences, one line each; none means A and B match. */
export async function verifyCommand(
  config: Config,
  user: string,
  json: boolean,
): Promise<{ text: string; differs: boolean }> {
  checkUsers([user]);
  // Both clients first: a missing setting is reported before anything is read.
  const source = sourceDoveadmClient(config);
  const replica = replicaDoveadmClient(config);
  try {
    // Asking the replica about a user it never received creates that user's INBOX there, which
    // plants the very GUID conflict that makes dsync fail forever on maildir. Only verify users
    // dovewarden has synced.
    const record = await withActions(config, (actions) => actions.user(user));
    if (record.destinations.every((entry) => entry.lastSuccess === null)) {
      throw new OperatorError(
        `user ${JSON.stringify(user)} was never synced to the replica; verifying it now would create its INBOX there`,
      );
    }
    const [a, b] = await Promise.all([mailboxView(source, user), mailboxView(replica, user)]);
    const differences: string[] = [];
    for (const [mailbox, onA] of a) {
      const onB = b.get(mailbox);
      if (onB === undefined) {
        differences.push(`${mailbox}: missing on the replica`);
        continue;
      }
      for (const field of STATUS_FIELDS) {
        if (onA.status[field] !== onB.status[field]) {
          differences.push(
            `${mailbox}: ${field} ${onA.status[field]} on the source, ${onB.status[field]} on the replica`,
          );
        }
      }
      const missing = onA.guids.filter((guid) => !onB.guids.includes(guid));
      const extra = onB.guids.filter((guid) => !onA.guids.includes(guid));
      if (missing.length > 0)
        differences.push(`${mailbox}: ${missing.length} message(s) missing on the replica`);
      if (extra.length > 0)
        differences.push(`${mailbox}: ${extra.length} message(s) only on the replica`);
    }
    for (const mailbox of b.keys())
      if (!a.has(mailbox)) differences.push(`${mailbox}: only on the replica`);
    const text = json
      ? `${JSON.stringify({ user, inSync: differences.length === 0, mailboxes: a.size, differences })}\n`
      : differences.length === 0
        ? `${user}: in sync (${a.size} mailboxes)\n`
        : `${user}: ${differences.length} difference(s)\n${differences.map((line) => `  ${line}`).join('\n')}\n`;
    return { text, differs: differences.length > 0 };
  } finally {
    source.close();
    replica.close();
  }
}
