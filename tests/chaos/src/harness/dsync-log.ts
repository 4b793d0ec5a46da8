import type { DovecotServer } from '@dovewarden/testkit';

/**
 * What A's Dovecot logs about every dsync it runs, so that "at most one dsync per user at a
 * time" is proven by the server itself, not by timing HTTP calls. Needs `log_debug =
 * service=doveadm` and a microsecond `log_timestamp` on A (see DSYNC_LOG_CONFIG).
 *
 * With A and B on one host, the master brain (the doveadm process on A that runs `sync`)
 * takes the user's lock when `lockTimeout` is given (src/doveadm/dsync/dsync-brain.c,
 * dsync_brain_lock): "brain M: Locking done locally in <home>/.dovecot-sync.lock", and at the
 * end "brain M: Unlocked <home>/.dovecot-sync.lock". Every master brain logs
 * "brain M: Namespace <ns> has path" when it starts, lock or not, and "brain M: Local mailbox
 * tree" once it works on the mailboxes (after the handshake with B; a sync that never reached
 * B logs no such line and touched nothing).
 */
export const DSYNC_LOG_CONFIG = `
# The dsync brain's debug lines (lock, unlock, mailbox work) of every doveadm process, with
# microseconds, for the chaos suite's proof of one dsync per user at a time.
log_debug = service=doveadm
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
`;

/** See dsyncLockReport: how far two processes' lines may be misordered by A's log process. */
export const LOG_ORDER_SLACK_US = 5000;

export interface DsyncSession {
  user: string;
  /** "<pid><session id>" as Dovecot prints it. */
  id: string;
  startedAt: number;
  /** Lock taken and released, in µs since the epoch; undefined when not logged. */
  lockedAt: number | undefined;
  unlockedAt: number | undefined;
  /** First and last line that shows work on mailboxes. */
  firstWorkAt: number | undefined;
  lastWorkAt: number | undefined;
  lastLineAt: number;
}

export interface DsyncLockReport {
  sessions: DsyncSession[];
  /** Sessions that worked on mailboxes: the ones that count. */
  working: number;
  violations: string[];
}

const LINE =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{6}) doveadm\(([^)]+)\)(<\d+><[^>]*>): Debug: (.*)$/;

function micros(stamp: string, usecs: string): number {
  // Dovecot logs local time; the container and CI run in UTC, and only order matters.
  return Date.parse(`${stamp.replace(' ', 'T')}Z`) * 1000 + Number(usecs);
}

export function parseDsyncSessions(log: string): DsyncSession[] {
  const sessions = new Map<string, DsyncSession>();
  for (const line of log.split('\n')) {
    const match = LINE.exec(line);
    if (match === null) continue;
    const [, stamp = '', usecs = '0', user = '', id = '', text = ''] = match;
    const at = micros(stamp, usecs);
    let session = sessions.get(id);
    if (session === undefined) {
      if (!text.startsWith('brain M: ')) continue;
      session = {
        user,
        id,
        startedAt: at,
        lockedAt: undefined,
        unlockedAt: undefined,
        firstWorkAt: undefined,
        lastWorkAt: undefined,
        lastLineAt: at,
      };
      sessions.set(id, session);
    }
    session.lastLineAt = at;
    if (!text.startsWith('brain M: ')) continue;
    const said = text.slice('brain M: '.length);
    if (said.startsWith('Locking done locally in ')) session.lockedAt = at;
    else if (said.startsWith('Unlocked ')) session.unlockedAt = at;
    else if (
      /^(Local mailbox tree|Remote mailbox tree|Syncing mailbox|Mailbox .* changed)/.test(said)
    ) {
      session.firstWorkAt ??= at;
      session.lastWorkAt = at;
    }
  }
  return [...sessions.values()];
}

/**
 * Every dsync on A that worked on a user's mailboxes held that user's lock while it did, and
 * no two of one user's lock intervals overlap. A session without an "Unlocked" line (its
 * process killed) holds the lock until its last line: fcntl locks die with the process.
 */
export function dsyncLockReport(server: DovecotServer): DsyncLockReport {
  const sessions = parseDsyncSessions(server.readLog());
  const violations: string[] = [];
  const working = sessions.filter((s) => s.firstWorkAt !== undefined);
  for (const s of working) {
    if (s.lockedAt === undefined) {
      violations.push(`${s.user} ${s.id}: dsync worked on mailboxes without the user's lock`);
      continue;
    }
    const end = s.unlockedAt ?? s.lastLineAt;
    if ((s.firstWorkAt ?? 0) < s.lockedAt || (s.lastWorkAt ?? 0) > end)
      violations.push(`${s.user} ${s.id}: dsync worked on mailboxes outside its lock`);
  }
  const byUser = new Map<string, DsyncSession[]>();
  for (const s of sessions)
    if (s.lockedAt !== undefined) byUser.set(s.user, [...(byUser.get(s.user) ?? []), s]);
  for (const [user, list] of byUser) {
    list.sort((x, y) => (x.lockedAt ?? 0) - (y.lockedAt ?? 0));
    for (let i = 1; i < list.length; i += 1) {
      const previous = list[i - 1];
      const current = list[i];
      const previousEnd = previous.unlockedAt ?? previous.lastLineAt;
      // Timestamps are when A's log process read each line, and it reads the processes' pipes
      // in turn: one's "Unlocked" and the next one's "Locking done" may swap by a few µs.
      // A real overlap is a whole dsync run long.
      if ((current.lockedAt ?? 0) < previousEnd - LOG_ORDER_SLACK_US)
        violations.push(
          `${user}: ${current.id} locked at ${current.lockedAt} before ${previous.id} unlocked at ${previousEnd}`,
        );
    }
  }
  return { sessions, working: working.length, violations };
}
