import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configTableOf, renderConfigTable, withConfigTable } from './readme-table';
import { OPTION_SPECS } from './options';

const README = path.resolve(__dirname, '../../../../README.md');
const REGENERATE =
  'run `npx turbo run build --filter=@dovewarden/shared && npm run config-table -w @dovewarden/shared -- --write` (it rewrites the table from OPTION_SPECS in packages/shared/src/config/options.ts)';

describe('README.md Configuration table', () => {
  it('is the one generated from OPTION_SPECS', () => {
    const current = configTableOf(readFileSync(README, 'utf8'));
    if (current === undefined) {
      throw new Error(`README.md has no table under "## Configuration"; ${REGENERATE}`);
    }
    const generated = renderConfigTable();
    if (current !== generated) {
      const have = current.split('\n');
      const want = generated.split('\n');
      const row = want.findIndex((line, index) => have[index] !== line);
      const at = row === -1 ? have.length : row;
      throw new Error(
        `README.md's Configuration table differs from OPTION_SPECS at table line ${at + 1}:\n` +
          `  README:    ${have[at] ?? '(missing)'}\n` +
          `  generated: ${want[at] ?? '(missing)'}\n` +
          `To fix it, ${REGENERATE}.`,
      );
    }
  });

  it('has one row per setting, in table order', () => {
    const rows = renderConfigTable().split('\n').slice(2);
    expect(rows.map((row) => row.split('|')[2]?.trim())).toEqual(
      Object.keys(OPTION_SPECS).map((option) => `--${option}`),
    );
  });

  it('replaces only the table in the README text', () => {
    const readme = '# x\n\n## Configuration\n\nintro\n\n| a |\n| - |\n| b |\n\nafter\n';
    expect(withConfigTable(readme, '| new |')).toBe(
      '# x\n\n## Configuration\n\nintro\n\n| new |\n\nafter\n',
    );
    expect(() => withConfigTable('# x\n', '| new |')).toThrow(/no table/);
  });
});
