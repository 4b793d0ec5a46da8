/**
 * Runs every benchmark in turn with this process's arguments. A chain of `node a && node b` in
 * package.json would hand `npm run bench -- --quick`'s arguments to the last command only.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCHES = [
  // First: its table leads docs/benchmarks.md.
  'cost.bench.js',
  'doveadm-client.bench.js',
  'ingest.bench.js',
  'worker.bench.js',
  'sweep.bench.js',
  'background.bench.js',
  'mask.bench.js',
  'sync-wait.bench.js',
  // Last: its report quotes the results the others just wrote.
  'replication-compare.js',
];

let failed = 0;
for (const file of BENCHES) {
  const result = spawnSync(
    process.execPath,
    [path.join(__dirname, file), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) {
    failed += 1;
    console.error(`${file} exited with ${String(result.status ?? result.signal)}`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
