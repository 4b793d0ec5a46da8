// Jest global teardown: writes the last result of every chaos scenario into the table of
// docs/reliability.md, between its markers, so the document shows what was last measured.
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const START = '<!-- chaos-results:start -->';
const END = '<!-- chaos-results:end -->';

module.exports = async function renderResults() {
  const resultsFile = join(__dirname, 'output', 'results.json');
  const docFile = join(__dirname, '..', '..', 'docs', 'reliability.md');
  if (!existsSync(resultsFile) || !existsSync(docFile)) return;
  const results = Object.values(JSON.parse(readFileSync(resultsFile, 'utf8')));
  // The failures of this run, last in the output: a CI log often keeps only its tail, and the
  // reason must be there (results.json also holds earlier runs' results, hence the time).
  const runStartedAt = Date.now() - process.uptime() * 1000;
  for (const r of results)
    if (!r.passed && Date.parse(r.at) >= runStartedAt)
      console.error(`\nchaos: FAILED ${r.scenario}\n${r.failure ?? '(no reason recorded)'}\n`);
  results.sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
  const rows = results.map((r) => {
    const converged =
      r.convergenceMs === undefined || r.convergenceMs === null
        ? '—'
        : `${(r.convergenceMs / 1000).toFixed(1)} s`;
    const bound =
      r.boundMs === undefined || r.boundMs === null ? '—' : `${(r.boundMs / 1000).toFixed(1)} s`;
    const relative = r.boundRelativeTo ?? '—';
    return `| ${r.scenario} | ${r.passed ? 'pass' : '**FAIL**'} | ${converged} | ${bound} | ${relative} | ${r.changes} | ${r.at.slice(0, 16).replace('T', ' ')} UTC | ${r.notes} |`;
  });
  const table = [
    '| Scenario | Last result | Converged after the load stopped | Bound | Bound is | Changes made on A | When | Notes |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const doc = readFileSync(docFile, 'utf8');
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) return;
  writeFileSync(docFile, `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`);
};
