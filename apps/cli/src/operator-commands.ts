import {
  type AppConnection,
  type Config,
  ConfigError,
  EmbeddedRedis,
  OperatorActions,
  UserMask,
  type UserRow,
  type SyncWaitTally,
  type UserStatus,
  compareReplicas,
  connectApp,
  createLogger,
  describeRedisTarget,
  syncPriorityNamed,
  replicaReader,
  sourceDoveadmClient,
  mailboxesOf,
  optionLabel,
  readReplicaSnapshot,
  usernameProblem,
  waitForRedis,
} from '@dovewarden/shared';
import { DoveadmPrinter, type Output, type OutputFormat, printed } from './doveadm-printer';
import { verifyReport } from './verify-report';

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

function userDetails(status: UserStatus): string {
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
    [
      'verification',
      status.verification.differing !== null
        ? `differs since ${when(status.verification.differing.since)} (last verified ${when(status.verification.differing.at)}, ${status.verification.differing.repairs} full sync(s) queued to repair it${status.verification.differing.replicaOnlyMail ? '; only mail on B alone, kept' : ''}): ${status.verification.differing.evidence.slice(0, 3).join('; ')}`
        : status.verification.lastWalk === null
          ? 'no verification walk finished yet'
          : `not known to differ (last walk over every user ${when(status.verification.lastWalk.startedAt)} to ${when(status.verification.lastWalk.finishedAt)})`,
    ],
    [
      'replica served it',
      status.servedByReplicaSince === null
        ? 'no'
        : `served by the replica since ${when(status.servedByReplicaSince)}: synced one-way, not backed up, until dovewarden failback`,
    ],
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

/** `HH:MM:SS` since `ms`, as `doveadm replicator status MASK` printed its times; `-` for never. */
export function timeAgo(ms: number | null, now: number): string {
  if (ms === null) return '-';
  const seconds = Math.max(0, Math.floor((now - ms) / 1000));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`;
}

/** The columns of `doveadm replicator status MASK`, in its order and spelling. */
const USER_TABLE_HEADERS = [
  'username',
  'priority',
  'fast sync',
  'full sync',
  'success sync',
  'failed',
] as const;

/**
 * One row of the user table. "fast sync" is the user's latest sync of either kind, whatever its
 * outcome (the old replicator updated it on every sync, full ones too); "success sync" its
 * latest successful one; "full sync" its latest full sync to every destination.
 */
function userTableRow(row: UserRow, now: number): string[] {
  const latest =
    row.lastSuccess === null && row.lastFailure === null
      ? null
      : Math.max(row.lastSuccess ?? 0, row.lastFailure ?? 0);
  return [
    row.user,
    row.priority,
    timeAgo(latest, now),
    timeAgo(row.lastFullSync, now),
    timeAgo(row.lastSuccess, now),
    row.failed ? 'y' : '-',
  ];
}

function hasRecord(row: UserRow): boolean {
  return (
    row.lastSuccess !== null || row.lastFailure !== null || row.failed || row.priority !== 'none'
  );
}

function isKnown(result: UserStatus): boolean {
  return (
    result.lastSuccess !== null ||
    result.lastFailure !== null ||
    result.queue !== null ||
    result.failed ||
    result.unknownToDoveadm ||
    result.servedByReplicaSince !== null ||
    result.destinations.some((entry) => entry.hasState)
  );
}

export interface StatusOptions {
  /** dovewarden's own JSON (richer than doveadm's `-f json`). */
  json: boolean;
  /** doveadm's output format, when asked for one. */
  format: OutputFormat | undefined;
}

/**
 * `status`: without masks the overall counts (doveadm's seven lines, then ours); with masks the
 * user table of `doveadm replicator status MASK`. One plain username in the default format also
 * gets the detailed view of that user after its row.
 */
export async function statusCommand(
  config: Config,
  masks: readonly string[],
  options: StatusOptions,
  out: Output,
): Promise<void> {
  await withActions(config, async (actions) => {
    if (masks.length === 0) {
      await out(await overallStatus(config, actions, options));
      return;
    }
    const parsed = masks.map((mask) => new UserMask(mask));
    checkMasks(parsed);
    const single = parsed.length === 1 && parsed[0]?.isPattern === false ? parsed[0] : undefined;
    if (single !== undefined && options.format === undefined) {
      const result = await actions.user(single.text);
      if (!isKnown(result))
        throw new OperatorError(`no replication record of user ${JSON.stringify(single.text)}`);
      if (options.json) {
        await out(`${JSON.stringify(result)}\n`);
        return;
      }
      const [row] = await actions.rows([single.text]);
      const table = await printed(
        'table',
        USER_TABLE_HEADERS,
        row === undefined ? [] : [userTableRow(row, Date.now())],
      );
      await out(`${table}\n${userDetails(result)}`);
      return;
    }
    // A plain name asks about that user: no record of it is an error, as for one name. A mask
    // that matches nobody prints an empty table, as doveadm did.
    const named = parsed.filter((mask) => !mask.isPattern).map((mask) => mask.text);
    const unrecorded = (await actions.rows(named))
      .filter((row) => !hasRecord(row))
      .map((row) => JSON.stringify(row.user));
    if (unrecorded.length > 0)
      throw new OperatorError(`no replication record of user ${unrecorded.join(', ')}`);
    if (options.json && options.format === undefined) {
      // dovewarden's JSON: an array of rows with times in ms, streamed.
      let first = true;
      await out('[');
      for await (const users of actions.resolve(parsed)) {
        const rows = (await actions.rows(users)).filter(hasRecord);
        if (rows.length === 0) continue;
        await out(`${first ? '' : ','}${rows.map((row) => JSON.stringify(row)).join(',')}`);
        first = false;
      }
      await out(']\n');
      return;
    }
    const printer = new DoveadmPrinter(options.format ?? 'table', USER_TABLE_HEADERS, out);
    for await (const users of actions.resolve(parsed)) {
      const now = Date.now();
      for (const row of await actions.rows(users))
        if (hasRecord(row)) printer.row(userTableRow(row, now));
      await printer.flush();
    }
    await printer.end();
  });
}

/** The sync-wait line: how deliveries that waited for B were answered, across every ingest. */
function syncWaitLine(tally: SyncWaitTally | null): [string, string] {
  const label = 'deliveries that waited for B (sync-wait)';
  if (tally === null) return [label, 'none (off, or no delivery yet)'];
  const { counts, lastAt } = tally;
  const parts = [
    `${counts.synced} on B in time`,
    `${counts.timeout} timed out${lastAt.timeout === null ? '' : ` (last ${when(lastAt.timeout)})`}`,
    `${counts.refused} refused (too many waiting)${lastAt.refused === null ? '' : ` (last ${when(lastAt.refused)})`}`,
  ];
  const other =
    counts.unavailable + counts.invalid + counts.off + counts.rejected + counts.shutdown;
  if (other > 0)
    parts.push(
      `${other} answered at once (${counts.unavailable} Redis down, ${counts.invalid} invalid, ${counts.rejected} rejected, ${counts.off} with sync-wait off, ${counts.shutdown} at shutdown)`,
    );
  if (counts.abandoned > 0) parts.push(`${counts.abandoned} abandoned by the delivery`);
  return [label, parts.join(', ')];
}

async function overallStatus(
  config: Config,
  actions: OperatorActions,
  options: StatusOptions,
): Promise<string> {
  const overall = await actions.overall(config.backgroundReplication.thresholdMs);
  const syncs = await actions.active();
  if (options.json && options.format === undefined)
    return `${JSON.stringify({ ...overall, syncs })}\n`;
  // First the lines of `doveadm replicator status`, as scripts parse them (mailcow's watchdog
  // reads "Waiting 'failed' requests"). Mapped: 'sync' has no counterpart (0); 'high' is new
  // mail and other live changes; 'low' background syncs; Queued 'failed' the syncs waiting to
  // be retried; Waiting 'failed' the users whose attempts are used up (marked failed).
  const replicator: [string, number][] = [
    ["Queued 'sync' requests", 0],
    [
      "Queued 'high' requests",
      overall.queuedByPriority.deliveryWait +
        overall.queuedByPriority.high +
        overall.queuedByPriority.normal,
    ],
    ["Queued 'low' requests", overall.queuedByPriority.low],
    ["Queued 'failed' requests", overall.delayed],
    ["Queued 'full resync' requests", 0],
    ["Waiting 'failed' requests", overall.usersMarkedFailed],
    ['Total number of known users', overall.usersKnown],
  ];
  const replicatorLines = await printed(
    options.format ?? 'table',
    ['field', 'value'],
    replicator.map(([label, value]) => [label, String(value)]),
    // doveadm prints no header over these in its table format.
    { hideTitles: true },
  );
  // Asked for doveadm's format: exactly what doveadm printed, nothing of ours after it.
  if (options.format !== undefined) return replicatorLines;
  const rows: [string, number][] = [
    ['queued', overall.queued],
    ['running', overall.active],
    ['waiting to retry', overall.delayed],
    ['failed jobs', overall.failed],
    ['users known', overall.usersKnown],
    [`users not synced within ${Math.round(overall.thresholdMs / 3_600_000)}h`, overall.usersStale],
    ['users marked failed', overall.usersMarkedFailed],
    ['users served by the replica, waiting for failback', overall.usersServedByReplica],
    ['users known to differ (verifier)', overall.usersDiffering],
  ];
  const syncWait = syncWaitLine(overall.syncWait);
  const width = Math.max(...rows.map(([label]) => label.length), syncWait[0].length);
  const running = syncs.map((sync) => `  ${sync.user}  since ${when(sync.startedAt)}`).join('\n');
  return `${replicatorLines}\n${[...rows, syncWait].map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n${running === '' ? '' : `running now:\n${running}\n`}`;
}

/**
 * The running syncs, as `doveadm replicator dsync-status` lists them: user, type, destination,
 * since when. One row per destination of each running sync.
 */
export async function dsyncStatusCommand(config: Config, options: StatusOptions): Promise<string> {
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
    if (options.json && options.format === undefined) return `${JSON.stringify({ syncs: rows })}\n`;
    return printed(
      options.format ?? 'table',
      ['username', 'type', 'destination', 'since'],
      rows.map((row) => [row.user, row.type, row.destination, when(row.since)]),
    );
  });
}

/** Masks must be usable names apart from their wildcards. */
function checkMasks(masks: readonly UserMask[]): void {
  checkUsers(masks.map((mask) => mask.text));
}

/**
 * The masks of a command: its arguments, with `-` standing for the lines of standard input. No
 * arguments and an input that is no terminal (a pipe, a file) read that input too, so that
 * `doveadm user '*' | dovewarden replicate` works as it reads.
 */
export async function masksFrom(
  args: readonly string[],
  stdin: { isTTY?: boolean; read: () => Promise<string> },
): Promise<string[]> {
  const readLines = async () =>
    (await stdin.read())
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
  if (args.length === 0) return stdin.isTTY === true ? [] : readLines();
  const masks: string[] = [];
  for (const arg of args) {
    if (arg === '-') masks.push(...(await readLines()));
    else masks.push(arg);
  }
  return masks;
}

export async function replicateCommand(
  config: Config,
  masks: readonly string[],
  options: { all: boolean; full: boolean; priority: string },
): Promise<string> {
  const priority = syncPriorityNamed(options.priority);
  if (priority === undefined)
    throw new OperatorError(
      `invalid --priority ${JSON.stringify(options.priority)}: use high, normal or low`,
    );
  if (options.all === masks.length > 0)
    throw new OperatorError('name users, or give --all, but not both');
  const kind = options.full ? 'a full sync' : 'a sync';
  if (options.all) {
    const client = sourceDoveadmClient(config);
    let targets: string[];
    try {
      targets = await client.listUsers('*');
    } finally {
      client.close();
    }
    checkUsers(targets);
    await withActions(config, (actions) =>
      actions.replicate(targets, { full: options.full, priority }),
    );
    return `queued ${kind} for ${targets.length} user(s)\n`;
  }
  const parsed = masks.map((mask) => new UserMask(mask));
  checkMasks(parsed);
  const queued = await withActions(config, async (actions) => {
    let count = 0;
    for await (const users of actions.resolve(parsed)) {
      await actions.replicate(users, { full: options.full, priority });
      count += users.length;
    }
    return count;
  });
  return `queued ${kind} for ${queued} user(s)\n`;
}

/**
 * Forgets users: their pending sync, dsync states and marks. A mask with wildcards matches the
 * known users (`remove '*@old-domain.example'`); one line per user removed.
 */
export async function removeCommand(
  config: Config,
  masks: readonly string[],
  out: Output,
): Promise<void> {
  if (masks.length === 0) throw new OperatorError('name users or masks to remove');
  const parsed = masks.map((mask) => new UserMask(mask));
  checkMasks(parsed);
  await withActions(config, async (actions) => {
    for await (const users of actions.resolve(parsed)) {
      const results = await Promise.all(users.map((user) => actions.remove(user)));
      await out(
        users
          .map(
            (user, i) =>
              `removed ${user}: dsync states and marks dropped${results[i]?.removedJob === true ? ', pending sync removed' : ''}\n`,
          )
          .join(''),
      );
    }
  });
}

/**
 * What `verify` found: the differences between the replica (B) and the source (A), one line
 * each; none means B is A as far as replication must preserve.
 */
export interface VerifyOptions {
  /** Every user dovewarden has a record of. */
  all: boolean;
  json: boolean;
  /** doveadm's output format (`-f`): one row per difference, `username kind difference`. */
  format: OutputFormat | undefined;
}

const VERIFY_HEADERS = ['username', 'kind', 'difference'] as const;

/**
 * `verify USER|MASK...|--all`: the strict comparison of B with A for each user, as the tests and
 * the background verifier make it. Resolves masks among the users dovewarden knows, skips (and
 * says so) a user never synced, since asking B about it would create its INBOX there. Returns
 * whether any user differs.
 */
export async function verifyCommand(
  config: Config,
  masks: readonly string[],
  options: VerifyOptions,
  out: Output,
): Promise<{ differs: boolean }> {
  if (options.all === masks.length > 0)
    throw new OperatorError('name users or masks, or give --all, but not both');
  const parsed = options.all ? [new UserMask('*')] : masks.map((mask) => new UserMask(mask));
  checkMasks(parsed);
  // Both clients first: a missing setting is reported before anything is read.
  const source = sourceDoveadmClient(config);
  const replica = replicaReader(config).client;
  const printer =
    options.format === undefined
      ? undefined
      : new DoveadmPrinter(options.format, VERIFY_HEADERS, out);
  let differs = false;
  let verified = 0;
  try {
    await withActions(config, async (actions) => {
      for await (const users of actions.resolve(parsed)) {
        for (const user of users) {
          const record = await actions.user(user);
          if (record.destinations.every((entry) => entry.lastSuccess === null)) {
            // Named alone: an error, as before. Matched by a mask: said, and passed over.
            if (!options.all && parsed.length === 1 && parsed[0]?.isPattern === false) {
              throw new OperatorError(
                `user ${JSON.stringify(user)} was never synced to the replica; verifying it now would create its INBOX there`,
              );
            }
            if (printer === undefined && !options.json)
              await out(`${user}: never synced, not verified\n`);
            continue;
          }
          // The same reader and comparison the tests use: tree, mailbox identities and
          // counters, every UID's GUID and flags, subscriptions.
          const [a, b] = await Promise.all([
            readReplicaSnapshot(source, user),
            readReplicaSnapshot(replica, user),
          ]);
          const differences = compareReplicas(user, a, b);
          verified += 1;
          if (differences.length > 0) differs = true;
          if (printer === undefined) {
            await out(verifyReport(user, mailboxesOf(a).length, differences, options.json));
            continue;
          }
          for (const { kind, text } of differences) printer.row([user, kind, text]);
          await printer.flush();
        }
      }
    });
    if (printer !== undefined) await printer.end();
    if (
      verified === 0 &&
      printer === undefined &&
      !options.json &&
      parsed.some((mask) => mask.isPattern)
    ) {
      await out('no synced user matched\n');
    }
    return { differs };
  } finally {
    source.close();
    replica.close();
  }
}
