import type { DovecotServer } from '@dovewarden/testkit';

/**
 * Lines in which Dovecot's event exporter reports an event it gave up on: after its retries,
 * that change reaches dovewarden only through a later event or a sweep.
 */
export function droppedEvents(server: DovecotServer): string[] {
  return server
    .readLog()
    .split('\n')
    .filter((line) => /Failed to export event/.test(line));
}
