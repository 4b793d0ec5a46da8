import { decodeDsyncState } from '@dovewarden/shared';
import type { ProxiedSync } from '@dovewarden/testkit';

/**
 * What a convergence failure needs to be understood from a CI log's tail alone: for each user
 * that still differs, every dsync of that user as A's doveadm listener saw it (when, how long,
 * its answer, the state it was sent and the one it printed, per mailbox), the user's jobs still
 * queued or running, and the last lines the dovewarden processes logged about the user.
 */

/** "guid8 uid=3 modseq=7 n=2" per mailbox, mailboxes named by the first 8 digits of the GUID. */
export function describeDsyncState(state: string): string {
  if (state === '') return '(none: full)';
  const mailboxes = decodeDsyncState(state);
  if (mailboxes === undefined) return `(unreadable: ${state.slice(0, 40)})`;
  if (mailboxes.length === 0) return '(no mailboxes)';
  return mailboxes
    .map(
      (m) =>
        `${m.guid.slice(0, 8)} uid=${m.lastCommonUid} modseq=${m.lastCommonModseq} n=${m.messages}`,
    )
    .join(', ');
}

/** The state a sync was sent: the argument after `-s`. */
function sentState(sync: ProxiedSync): string {
  const at = sync.args.indexOf('-s');
  return at >= 0 ? (sync.args[at + 1] ?? '') : '';
}

export function describeSyncs(syncs: readonly ProxiedSync[], since: number): string[] {
  return syncs.map((sync) => {
    const at = ((sync.startedAt - since) / 1000).toFixed(2);
    const took =
      sync.endedAt === undefined ? 'running' : `${String(sync.endedAt - sync.startedAt)} ms`;
    const printed = sync.printed.join('').trim();
    return (
      `  t=${at}s ${sync.command} ${took} ${sync.status ?? 'no answer'}` +
      `${sync.abandonedAt === undefined ? '' : ' (abandoned)'}` +
      ` from [${describeDsyncState(sentState(sync))}]` +
      ` to [${printed === '' ? '-' : describeDsyncState(printed)}]`
    );
  });
}

/** The users a comparison's differences name (each line starts with the user). */
export function usersOf(differences: readonly string[], users: readonly string[]): string[] {
  return [...new Set(differences.map((line) => line.split(/[ :]/)[0] ?? ''))].filter((user) =>
    users.includes(user),
  );
}

/** Lines of `output` that are about `user` (its JSON field), the last `max` of them. */
export function linesAbout(output: readonly string[], user: string, max: number): string[] {
  const needle = `"user":"${user}"`;
  return output.filter((line) => line.includes(needle)).slice(-max);
}

/**
 * A JSON log line shortened for the report: its time first (so that lines of several processes
 * sort), the process, the message, and the fields that are not the user's or the logger's own.
 */
export function compactLogLine(process: string, line: string): string {
  try {
    const fields = JSON.parse(line) as Record<string, unknown>;
    const { timestamp, message, context, level, user, ...rest } = fields;
    void context;
    void user;
    const time = typeof timestamp === 'string' ? timestamp.slice(11, 23) : '?';
    return `  ${time} ${process} ${String(level)}: ${String(message)} ${JSON.stringify(rest)}`.slice(
      0,
      300,
    );
  } catch {
    return `  ? ${process}: ${line.slice(0, 280)}`;
  }
}
