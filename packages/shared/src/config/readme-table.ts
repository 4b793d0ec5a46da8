import { OPTION_SPECS, type OptionName, type OptionSpec, envNameOf } from './options';

/**
 * README.md's Configuration table, generated from OPTION_SPECS so that the settings are written
 * down once. readme-table.test.ts fails when the README's copy drifts; readme-table-cli.ts
 * prints the table or writes it into README.md.
 */

const HEADER = ['env', 'flag', 'default', 'meaning'] as const;

/** The heading the table sits under in README.md. */
export const CONFIG_TABLE_HEADING = '## Configuration';

function defaultCell(spec: OptionSpec): string {
  if (spec.readmeDefault !== undefined) return spec.readmeDefault;
  return spec.default === undefined || spec.default === '' ? '(none)' : `\`${spec.default}\``;
}

function rowOf(option: OptionName): string[] {
  const spec: OptionSpec = OPTION_SPECS[option];
  return [envNameOf(option), `--${option}`, defaultCell(spec), spec.readme ?? spec.describe];
}

/** A "|" inside a cell would end it. */
function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

/**
 * The table as prettier formats it (README.md is formatted by `npm run format`): every column
 * padded to its widest cell, and at least 3 wide for the "---" row. Widths count code points,
 * which is prettier's width for the text we have; wide (CJK, emoji) characters would differ.
 */
export function renderConfigTable(): string {
  const rows = [
    [...HEADER],
    ...(Object.keys(OPTION_SPECS) as OptionName[]).map((option) => rowOf(option).map(escapeCell)),
  ];
  const widths = HEADER.map((_, column) =>
    Math.max(3, ...rows.map((row) => [...(row[column] ?? '')].length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const [header, ...body] = rows;
  return [
    line(header ?? []),
    line(widths.map((width) => '-'.repeat(width))),
    ...body.map((row) => line(row)),
  ].join('\n');
}

/** Where the table's lines are in README.md: the first run of "|" lines under the heading. */
function tableSpan(lines: readonly string[]): { start: number; end: number } | undefined {
  const heading = lines.indexOf(CONFIG_TABLE_HEADING);
  if (heading === -1) return undefined;
  const start = lines.findIndex((text, index) => index > heading && text.startsWith('|'));
  if (start === -1) return undefined;
  let end = start;
  while (end < lines.length && (lines[end] ?? '').startsWith('|')) end++;
  return { start, end };
}

/** The Configuration table as README.md has it now; undefined when it cannot be found. */
export function configTableOf(readme: string): string | undefined {
  const lines = readme.split('\n');
  const span = tableSpan(lines);
  return span === undefined ? undefined : lines.slice(span.start, span.end).join('\n');
}

/** README.md's text with its Configuration table replaced by `table`. */
export function withConfigTable(readme: string, table: string): string {
  const lines = readme.split('\n');
  const span = tableSpan(lines);
  if (span === undefined) {
    throw new Error(`no table under "${CONFIG_TABLE_HEADING}" in README.md`);
  }
  return [...lines.slice(0, span.start), table, ...lines.slice(span.end)].join('\n');
}
