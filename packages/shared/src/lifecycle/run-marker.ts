import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A file in the data folder that exists while `dovewarden all` runs and is removed by a clean
 * stop. Finding it at start means the last run was killed (kill -9, OOM, power loss): events
 * Dovecot sent while it was down are gone, and the last second of the AOF may be too.
 */
export class RunMarker {
  readonly #file: string;

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'dovewarden.running');
  }

  /** Marks this run; true when an earlier run did not stop cleanly. */
  begin(): boolean {
    let unclean = false;
    try {
      statSync(this.#file);
      unclean = true;
    } catch {
      // No marker: the last run stopped cleanly, or this is the first.
    }
    writeFileSync(this.#file, `${process.pid}\n`);
    return unclean;
  }

  end(): void {
    rmSync(this.#file, { force: true });
  }
}
