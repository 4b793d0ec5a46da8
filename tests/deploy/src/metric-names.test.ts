import {
  DovewardenProcess,
  FakeDoveadm,
  SHARED_REDIS,
  assertSharedRedis,
  deleteNamespace,
  dovewardenEnv,
  freePorts,
  uniqueNamespace,
  nodeStartReference,
  relativeBound,
} from '@dovewarden/testkit';
import { exportedNames, grafanaToPromql, metricNamesIn, unknownNames } from './promql';
import { alertRules, dashboardQueries, repoFile } from './repo';

const DASHBOARD = 'deploy/grafana/dashboards/dovewarden-overview.json';

describe('the PromQL name extractor', () => {
  const exported = exportedNames(
    [
      '# HELP dovewarden_syncs_total x',
      '# TYPE dovewarden_syncs_total counter',
      '# TYPE dovewarden_sync_duration_seconds histogram',
      'dovewarden_sync_duration_seconds_bucket{le="0.05"} 0',
    ].join('\n'),
  );

  it('finds every selected metric, and no label, function or keyword', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x"}[5m]))) > 0.1 and on (instance) b == 0 or absent(c{d=~"e.*"}) unless {__name__="f"}',
      ),
    ).toEqual(['a_bucket', 'b', 'c', 'f']);
  });

  it('accepts histogram series and flags a name nobody exports', () => {
    expect(
      unknownNames(
        'sum(rate(dovewarden_sync_duration_seconds_bucket[5m])) / sum(rate(dovewarden_syncs_total[5m]))',
        exported,
      ),
    ).toEqual([]);
    expect(unknownNames('sum(rate(dovewarden_syncs_totl[5m])) or up == 0', exported)).toEqual([
      'dovewarden_syncs_totl',
    ]);
    expect(unknownNames('dovewarden_syncs_total_bucket', exported)).toEqual([
      'dovewarden_syncs_total_bucket',
    ]);
  });

  it('rejects an expression that is not PromQL', () => {
    expect(() => metricNamesIn('sum(rate(dovewarden_syncs_total[5m])')).toThrow(/syntax error/);
    expect(() => metricNamesIn('rate(x[$__rate_interval])')).toThrow(/syntax error/);
    expect(metricNamesIn(grafanaToPromql('rate(x[$__rate_interval])'))).toEqual(['x']);
  });
});

describe('dashboards and alerts use only metrics the apps export', () => {
  const namespace = uniqueNamespace('deploy-metrics');
  const processes: DovewardenProcess[] = [];
  let fake: FakeDoveadm | undefined;
  const exported = new Set<string>();
  const byApp = new Map<string, Set<string>>();

  beforeAll(async () => {
    await assertSharedRedis();
    // A hang guard: four processes starting at once on two cores, 25 starts of the command each.
    const ready = relativeBound(await nodeStartReference(), 100);
    fake = await FakeDoveadm.start({ password: 'deploy-test', users: ['u1', 'u2'] });
    const apps = ['ingest', 'worker', 'scheduler', 'admin'];
    const ports = await freePorts(apps.length * 2);
    const base = {
      ...dovewardenEnv(namespace),
      DOVEWARDEN_DOVEADM_URL: fake.url,
      DOVEWARDEN_DOVEADM_PASSWORD: 'deploy-test',
      DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:12345',
      DOVEWARDEN_ADMIN_PASSWORD: 'deploy-test-admin',
      DOVEWARDEN_LOG_LEVEL: 'warn',
    };
    apps.forEach((app, index) => {
      const metricsPort = ports[index * 2];
      const appPort = ports[index * 2 + 1];
      processes.push(
        DovewardenProcess.start({
          args: [app],
          metricsPort,
          env: {
            ...base,
            DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
            DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${appPort}`,
            DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${appPort}`,
          },
        }),
      );
    });
    await Promise.all(processes.map((process) => process.waitUntilReady(ready)));
    for (const [index, app] of apps.entries()) {
      const res = await fetch(`http://127.0.0.1:${processes[index].metricsPort}/metrics`);
      expect(res.status).toBe(200);
      const names = exportedNames(await res.text());
      byApp.set(app, names);
      for (const name of names) exported.add(name);
    }
  });

  afterAll(async () => {
    await Promise.all(processes.map((process) => process.stop()));
    await fake?.stop();
    await deleteNamespace(SHARED_REDIS, namespace);
  });

  it('each app exports the metrics its own panels and alerts rely on', () => {
    // Spot checks that the scrape really reached each app (and that the added metrics exist).
    expect(byApp.get('ingest')).toContain('dovewarden_ingest_request_duration_seconds_bucket');
    expect(byApp.get('worker')).toContain('dovewarden_worker_configuration_paused');
    expect(byApp.get('scheduler')).toContain('dovewarden_sweep_interval_seconds');
    expect(byApp.get('scheduler')).toContain('dovewarden_verify_interval_seconds');
    expect(byApp.get('admin')).toContain('dovewarden_queue_jobs');
    expect(byApp.get('ingest')).toContain('dovewarden_sync_wait_duration_seconds_bucket');
    for (const names of byApp.values()) expect(names).toContain('dovewarden_ready');
  });

  it('every dashboard query parses and names exported metrics only', () => {
    const queries = dashboardQueries(DASHBOARD);
    expect(queries.length).toBeGreaterThan(10);
    const problems = queries
      .map(({ panel, expr }) => ({ panel, unknown: unknownNames(grafanaToPromql(expr), exported) }))
      .filter((entry) => entry.unknown.length > 0);
    expect(problems).toEqual([]);
  });

  it('every alert rule parses and names exported metrics only', () => {
    const rules = alertRules();
    expect(rules.map((rule) => rule.alert).sort()).toEqual([
      'DovewardenDeliveriesNotWaitedFor',
      'DovewardenFailedUsersRising',
      'DovewardenIngestAbsent',
      'DovewardenIngestLatencyNearDovecotTimeout',
      'DovewardenIngestNotReady',
      'DovewardenQueueGrowing',
      'DovewardenReplicaDiverged',
      'DovewardenReplicaFoldersApart',
      'DovewardenReplicationLagSLO',
      'DovewardenSchedulerAbsent',
      'DovewardenSweepOverdue',
      'DovewardenSyncFailureRate',
      'DovewardenUsersStale',
      'DovewardenVerificationBehind',
      'DovewardenWorkerAbsent',
      'DovewardenWorkerPausedConfiguration',
    ]);
    const problems = rules
      .map((rule) => ({ alert: rule.alert, unknown: unknownNames(rule.expr, exported) }))
      .filter((entry) => entry.unknown.length > 0);
    expect(problems).toEqual([]);
  });

  it('every alert has a runbook section in docs/runbooks.md', () => {
    const runbooks = repoFile('docs/runbooks.md');
    const sections = new Set(
      [...runbooks.matchAll(/^## (\w+)$/gm)].map((match) => (match[1] ?? '').toLowerCase()),
    );
    const alerts = repoFile('deploy/prometheus/alerts.yml');
    const urls = [...alerts.matchAll(/runbook_url: docs\/runbooks\.md#(\w+)/g)].map(
      (match) => match[1] ?? '',
    );
    const rules = alertRules();
    expect(urls).toHaveLength(rules.length);
    expect(urls.filter((anchor) => !sections.has(anchor))).toEqual([]);
    expect(rules.map((rule) => rule.alert.toLowerCase()).sort()).toEqual([...urls].sort());
  });

  it("the chart's KEDA query names exported metrics only", () => {
    const template = repoFile('charts/dovewarden/templates/autoscaling.yaml');
    const names = [...template.matchAll(/\bdovewarden_[a-z0-9_]+\b/g)].map((match) => match[0]);
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !exported.has(name))).toEqual([]);
  });
});
