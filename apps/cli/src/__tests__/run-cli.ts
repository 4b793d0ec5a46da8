import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');

/**
 * A hang guard for each run of the command: 40 starts of it (`--version`), measured once per
 * test file on this machine (about 20 s on a quiet one). spawnSync blocks jest's own timeout.
 */
export const RUN_TIMEOUT_MS = ((): number => {
  const start = (): number => {
    const t0 = performance.now();
    spawnSync(process.execPath, [MAIN, '--version'], { stdio: 'ignore' });
    return performance.now() - t0;
  };
  start();
  const samples = [start(), start(), start()].sort((x, y) => x - y);
  return Math.ceil(40 * samples[1]);
})();
