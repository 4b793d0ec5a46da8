import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configTableOf, renderConfigTable, withConfigTable } from './readme-table';

/**
 * `npm run config-table -w @dovewarden/shared` prints README.md's Configuration table from
 * OPTION_SPECS; with `-- --write` it puts it into README.md in place of the old one. It runs
 * from dist/config, which is as deep in the repo as src/config, so the README path is the same.
 */
const README = path.resolve(__dirname, '../../../../README.md');

const table = renderConfigTable();
if (process.argv.includes('--write')) {
  const readme = readFileSync(README, 'utf8');
  if (configTableOf(readme) === table) {
    process.stdout.write(`${README}: Configuration table already up to date\n`);
  } else {
    writeFileSync(README, withConfigTable(readme, table));
    process.stdout.write(`${README}: Configuration table rewritten\n`);
  }
} else {
  process.stdout.write(`${table}\n`);
}
