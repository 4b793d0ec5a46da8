#!/usr/bin/env node
// Writes the deploy files that must not drift from their one source:
// - the Dovecot event-export config of the compose demo and of the Helm chart, from the same
//   renderer as `dovewarden dovecot-config` (apps/ingest/src/dovecot-config.ts, built), and
//   their sync-wait config and Lua script (apps/ingest/src/sync-wait/);
// - the chart's copies of the Grafana dashboards and the alert rules, because Helm can only
//   read files inside the chart and does not package symlinks.
//
//   node scripts/render-deploy-configs.js           write the files
//   node scripts/render-deploy-configs.js --check   exit 1 and name every file that differs
//   --root DIR                                       operate on another checkout (tests)
//
// Needs `npx turbo run build` first. tests/deploy runs --check, so a change to the renderer,
// the dashboards or the alerts that is not re-rendered fails the tests.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

/** The chart replaces this with the ingest Service URL (see templates/dovecot-events.yaml). */
const CHART_URL_PLACEHOLDER = 'http://DOVEWARDEN-EVENTS-URL/events';
/** ingest as Dovecot A reaches it on the compose network. */
const COMPOSE_EVENTS_URL = 'http://ingest:8080/events';

function renderDovecot(url) {
  const { buildConfig } = require('@dovewarden/shared');
  const { renderDovecotConfig } = require('@dovewarden/ingest');
  // Defaults only: what `dovewarden dovecot-config` prints without DOVEWARDEN_* settings.
  const config = buildConfig({}, 'tool');
  return renderDovecotConfig({ syntax: '2.4', url, settings: config.ingest });
}

/** The chart replaces these with ingest's /sync-wait URL and syncWait.timeoutMs. */
const CHART_SYNC_WAIT_URL_PLACEHOLDER = 'http://DOVEWARDEN-SYNC-WAIT-URL/sync-wait';
const CHART_SYNC_WAIT_TIMEOUT_PLACEHOLDER = 'DOVEWARDEN-SYNC-WAIT-TIMEOUT-MS';
/** The compose demo's sync-wait, when turned on (docker-compose.yml says how). */
const COMPOSE_SYNC_WAIT_URL = 'http://ingest:8080/sync-wait';
const COMPOSE_SYNC_WAIT_TIMEOUT_MS = 2000;

function renderSyncWait(url, luaPath, timeoutMs) {
  const { renderSyncWaitConfig } = require('@dovewarden/ingest');
  return renderSyncWaitConfig({ url, luaPath, timeoutMs });
}

/** Every generated file: path relative to the repository root, and its content. */
function expectedFiles(root) {
  const { syncWaitLua } = require('@dovewarden/ingest');
  const files = new Map();
  files.set(
    'deploy/dovecot/sync-wait/dovewarden-sync-wait.conf',
    renderSyncWait(
      COMPOSE_SYNC_WAIT_URL,
      '/etc/dovecot/sync-wait/dovewarden-sync-wait.lua',
      COMPOSE_SYNC_WAIT_TIMEOUT_MS,
    ),
  );
  files.set('deploy/dovecot/sync-wait/dovewarden-sync-wait.lua', syncWaitLua());
  files.set(
    'charts/dovewarden/files/dovecot-sync-wait.conf.tpl',
    renderSyncWait(
      CHART_SYNC_WAIT_URL_PLACEHOLDER,
      '/etc/dovecot/dovewarden-sync-wait.lua',
      1,
    ).replace('timeout_ms = 1\n', `timeout_ms = ${CHART_SYNC_WAIT_TIMEOUT_PLACEHOLDER}\n`),
  );
  files.set('charts/dovewarden/files/dovewarden-sync-wait.lua', syncWaitLua());
  files.set('deploy/dovecot/conf.d/dovewarden-events.conf', renderDovecot(COMPOSE_EVENTS_URL));
  files.set(
    'charts/dovewarden/files/dovecot-events.conf.tpl',
    renderDovecot(CHART_URL_PLACEHOLDER),
  );
  const dashboards = path.join(root, 'deploy/grafana/dashboards');
  for (const name of fs
    .readdirSync(dashboards)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    files.set(
      `charts/dovewarden/files/dashboards/${name}`,
      fs.readFileSync(path.join(dashboards, name), 'utf8'),
    );
  }
  files.set(
    'charts/dovewarden/files/alerts.yml',
    fs.readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8'),
  );
  return files;
}

function main(argv) {
  const check = argv.includes('--check');
  const rootIndex = argv.indexOf('--root');
  const root = path.resolve(rootIndex >= 0 ? argv[rootIndex + 1] : path.join(__dirname, '..'));
  const stale = [];
  for (const [relative, content] of expectedFiles(root)) {
    const target = path.join(root, relative);
    const current = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : undefined;
    if (current === content) continue;
    if (check) {
      stale.push(relative);
    } else {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
      process.stdout.write(`wrote ${relative}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `out of date (run node scripts/render-deploy-configs.js):\n${stale.map((f) => `  ${f}\n`).join('')}`,
    );
    process.exitCode = 1;
  }
}

module.exports = {
  expectedFiles,
  CHART_URL_PLACEHOLDER,
  CHART_SYNC_WAIT_URL_PLACEHOLDER,
  COMPOSE_EVENTS_URL,
};

if (require.main === module) main(process.argv.slice(2));
