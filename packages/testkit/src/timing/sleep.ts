import { setTimeout as timeout } from 'node:timers/promises';

/**
 * Waits `ms` milliseconds: node:timers/promises' setTimeout, under the one name every test,
 * harness and benchmark uses. A fixed wait is for pacing and for "nothing more happens"; to
 * wait for something to happen, poll it with waitUntil and a bound.
 */
export function sleep(ms: number): Promise<void> {
  return timeout(ms);
}
