import { InvalidArgumentError } from '../errors/invalid-argument-error';
import type { SyncOptions } from '../types';

/**
 * The doveadm command a sync runs: `backup` (the destination made a mirror of the source) or
 * `sync`. Both speak the same parameters; `-1` belongs to `sync` alone, since backup is one-way
 * by nature.
 */
export function syncCommand(
  options: Pick<SyncOptions, 'backup' | 'onewaySync'>,
): 'sync' | 'backup' {
  if (options.backup !== true) return 'sync';
  if (options.onewaySync === true) {
    throw new InvalidArgumentError('doveadm backup: onewaySync belongs to sync, not to backup');
  }
  return 'backup';
}
