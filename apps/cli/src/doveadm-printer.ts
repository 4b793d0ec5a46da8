/** doveadm's output formats (`doveadm -f`), for the commands that mirror `doveadm replicator`. */
export const OUTPUT_FORMATS = ['table', 'tab', 'flow', 'json', 'pager'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Writes text out, resolving once it may write more (stdout's backpressure). */
export type Output = (text: string) => Promise<void>;

/** Rows the table format holds back to size its columns; later rows reuse those widths. */
const TABLE_SIZING_ROWS = 1000;

/**
 * Prints rows the way `doveadm -f FORMAT` does, streaming: nothing keeps more than
 * TABLE_SIZING_ROWS rows, so `status '*'` over a million users runs in bounded memory.
 * - table: a header line (unless hidden, as doveadm hides it for field/value lists), columns
 *   padded and separated by one space;
 * - tab: header and rows joined by tabs;
 * - flow: `header=value` pairs per row, separated by spaces;
 * - json: an array of objects of strings, keyed by header;
 * - pager: `header: value` lines, a blank line after each row.
 */
export class DoveadmPrinter {
  #pending: string[][] = [];
  #widths: number[] | undefined;
  #chunk = '';
  #rows = 0;

  constructor(
    private readonly format: OutputFormat,
    private readonly headers: readonly string[],
    private readonly out: Output,
    private readonly options: { hideTitles?: boolean } = {},
  ) {
    if (format === 'tab') this.#chunk = `${headers.join('\t')}\n`;
    if (format === 'json') this.#chunk = '[';
  }

  row(cells: readonly string[]): void {
    this.#rows += 1;
    switch (this.format) {
      case 'table':
        if (this.#widths === undefined) {
          this.#pending.push([...cells]);
          if (this.#pending.length >= TABLE_SIZING_ROWS) this.#sizeTable();
        } else {
          this.#chunk += this.#tableLine(cells);
        }
        return;
      case 'tab':
        this.#chunk += `${cells.map((cell) => cell.replace(/[\t\n]/g, ' ')).join('\t')}\n`;
        return;
      case 'flow':
        this.#chunk += `${this.headers.map((header, i) => `${header}=${cells[i] ?? ''}`).join(' ')}\n`;
        return;
      case 'json':
        this.#chunk += `${this.#rows > 1 ? ',' : ''}${JSON.stringify(
          Object.fromEntries(this.headers.map((header, i) => [header, cells[i] ?? ''])),
        )}`;
        return;
      case 'pager':
        this.#chunk += `${this.headers.map((header, i) => `${header}: ${cells[i] ?? ''}`).join('\n')}\n\n`;
        return;
    }
  }

  /** Writes what the rows so far produced, so that output streams batch by batch. */
  async flush(): Promise<void> {
    if (this.#chunk === '') return;
    const chunk = this.#chunk;
    this.#chunk = '';
    await this.out(chunk);
  }

  async end(): Promise<void> {
    if (this.format === 'table' && this.#widths === undefined) this.#sizeTable();
    if (this.format === 'json') this.#chunk += ']\n';
    await this.flush();
  }

  #sizeTable(): void {
    const rows = this.#pending;
    this.#pending = [];
    const widths = this.headers.map((header, column) =>
      Math.max(
        this.options.hideTitles === true ? 0 : header.length,
        ...rows.map((row) => row[column]?.length ?? 0),
      ),
    );
    this.#widths = widths;
    if (this.options.hideTitles !== true) this.#chunk += this.#tableLine(this.headers);
    for (const row of rows) this.#chunk += this.#tableLine(row);
  }

  #tableLine(cells: readonly string[]): string {
    const widths = this.#widths ?? [];
    return `${this.headers
      .map((_, i) => (cells[i] ?? '').padEnd(widths[i] ?? 0))
      .join(' ')
      .trimEnd()}\n`;
  }
}

/** The whole output of a printer fed `rows`, as one string: for short lists. */
export async function printed(
  format: OutputFormat,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  options: { hideTitles?: boolean } = {},
): Promise<string> {
  let text = '';
  const printer = new DoveadmPrinter(
    format,
    headers,
    (chunk) => {
      text += chunk;
      return Promise.resolve();
    },
    options,
  );
  for (const row of rows) printer.row(row);
  await printer.end();
  return text;
}
