import type { ReplicaDifference } from '@dovewarden/shared';

/**
 * What `dovewarden verify USER` prints for the differences compareReplicas found: `USER: in
 * sync (N mailboxes)`, or `USER: K difference(s)` and one indented line per difference; with
 * `json`, one JSON line with each difference's kind and text, so scripts can count by kind.
 */
export function verifyReport(
  user: string,
  mailboxes: number,
  differences: readonly ReplicaDifference[],
  json: boolean,
): string {
  if (json) {
    return `${JSON.stringify({
      user,
      inSync: differences.length === 0,
      mailboxes,
      differences: differences.map(({ kind, text }) => ({ kind, text })),
    })}\n`;
  }
  if (differences.length === 0) return `${user}: in sync (${mailboxes} mailboxes)\n`;
  return `${user}: ${differences.length} difference(s)\n${differences
    .map((difference) => `  ${difference.text}\n`)
    .join('')}`;
}
