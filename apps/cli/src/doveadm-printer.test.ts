import { DoveadmPrinter, printed } from './doveadm-printer';

const HEADERS = ['username', 'failed'];
const ROWS = [
  ['a', '-'],
  ['long.name@example.com', 'y'],
];

describe('DoveadmPrinter', () => {
  it.each([
    ['table', 'username              failed\na                     -\nlong.name@example.com y\n'],
    ['tab', 'username\tfailed\na\t-\nlong.name@example.com\ty\n'],
    ['flow', 'username=a failed=-\nusername=long.name@example.com failed=y\n'],
    ['pager', 'username: a\nfailed: -\n\nusername: long.name@example.com\nfailed: y\n\n'],
    ['json', '[{"username":"a","failed":"-"},{"username":"long.name@example.com","failed":"y"}]\n'],
  ] as const)('prints %s as doveadm -f did', async (format, expected) => {
    expect(await printed(format, HEADERS, ROWS)).toBe(expected);
  });

  it('prints a valid empty list in every format', async () => {
    expect(await printed('table', HEADERS, [])).toBe('username failed\n');
    expect(await printed('tab', HEADERS, [])).toBe('username\tfailed\n');
    expect(JSON.parse(await printed('json', HEADERS, []))).toEqual([]);
    expect(await printed('flow', HEADERS, [])).toBe('');
  });

  it('hides the titles of a field/value table, as doveadm replicator status did', async () => {
    expect(await printed('table', ['field', 'value'], [['x', '1']], { hideTitles: true })).toBe(
      'x 1\n',
    );
  });

  it('streams: a table holds back only the rows that size it, then writes as it goes', async () => {
    const chunks: string[] = [];
    const printer = new DoveadmPrinter('table', HEADERS, (chunk) => {
      chunks.push(chunk);
      return Promise.resolve();
    });
    for (let i = 0; i < 999; i++) printer.row([`u${i}`, '-']);
    await printer.flush();
    expect(chunks).toEqual([]);
    printer.row(['u999', '-']);
    await printer.flush();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.split('\n')).toHaveLength(1002);
    // Later rows keep the widths the first thousand set; a longer name just pushes its row out.
    printer.row(['a-name-longer-than-the-column', 'y']);
    await printer.flush();
    expect(chunks[1]).toBe('a-name-longer-than-the-column y\n');
    await printer.end();
    expect(chunks).toHaveLength(2);
  });

  it('keeps a tab row on one line whatever its cells hold', async () => {
    expect(await printed('tab', HEADERS, [['a\tb', 'c\nd']])).toBe('username\tfailed\na b\tc d\n');
  });
});
