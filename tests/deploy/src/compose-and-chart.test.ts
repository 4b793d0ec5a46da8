import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  REDIS_DISTRIBUTED_ENV,
  ROOT,
  envNamesIn,
  repoFile,
  repoYaml,
  schemaEnvNames,
} from './repo';
import { itIf } from '@dovewarden/testkit';

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  ports?: string[];
  healthcheck?: { test?: unknown };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  deploy?: { replicas?: number };
}

const compose = repoYaml('docker-compose.yml') as { services: Record<string, ComposeService> };
const services = compose.services;

/** What docker-compose.yml's header promises, and docs/deploy.md repeats. */
const PUBLISHED: Record<string, string[]> = {
  'dovecot-a': ['127.0.0.1:1143:31143'],
  'dovecot-b': ['127.0.0.1:2143:31143'],
  admin: ['127.0.0.1:3000:3000'],
  grafana: ['127.0.0.1:3001:3000'],
};

function unknownEnv(text: string): string[] {
  const known = schemaEnvNames();
  return [...envNamesIn(text)].filter((name) => !known.has(name)).sort();
}

/** The compose CLIs here: only one that is there and has compose counts (docker may lack it). */
const composeClis: [string, string[]][] = (
  [
    ['docker', ['compose']],
    ['docker-compose', []],
  ] as [string, string[]][]
).filter(([command, prefix]) => {
  const probe = spawnSync(command, [...prefix, 'version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0;
});
const composeMissing =
  composeClis.length === 0
    ? 'neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)'
    : null;

describe('docker-compose.yml', () => {
  it('has the demo services, a replicated worker and a demo profile', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'admin',
        'demo',
        'dovecot-a',
        'dovecot-b',
        'grafana',
        'ingest',
        'prometheus',
        'redis',
        'scheduler',
        'worker',
      ].sort(),
    );
    expect(services['worker']?.deploy?.replicas).toBe(2);
    expect(services['demo']?.profiles).toEqual(['demo']);
    expect(services['dovecot-a']?.image).toMatch(/^dovecot\/dovecot:2\.4\.\d+$/);
    expect(services['dovecot-b']?.image).toBe(services['dovecot-a']?.image);
  });

  it('every depends_on names a service that exists and has a healthcheck when waited on', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck?.test).toBeDefined();
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect({ name, target, exists: target in services }).toEqual({
          name,
          target,
          exists: true,
        });
        expect(['service_started', 'service_healthy']).toContain(condition);
        if (condition === 'service_healthy') expect(services[target]?.healthcheck).toBeDefined();
      }
    }
  });

  it('publishes only the documented ports, on loopback', () => {
    const published = Object.fromEntries(
      Object.entries(services)
        .filter(([, service]) => (service.ports ?? []).length > 0)
        .map(([name, service]) => [name, service.ports]),
    );
    expect(published).toEqual(PUBLISHED);
    const docs = repoFile('docs/deploy.md');
    for (const ports of Object.values(PUBLISHED)) {
      for (const port of ports) expect(docs).toContain(port.split(':').slice(0, 2).join(':'));
    }
  });

  it('mounts files that exist', () => {
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect(fs.existsSync(path.join(ROOT, source))).toBe(true);
      }
    }
  });

  it('uses only DOVEWARDEN_* names the config schema knows (comments included)', () => {
    const text = repoFile('docker-compose.yml');
    for (const name of REDIS_DISTRIBUTED_ENV) expect(text).toContain(name);
    expect(unknownEnv(text)).toEqual([]);
  });

  itIf('compose validation', composeMissing)(
    'is valid for docker compose (config), where a compose CLI is installed',
    () => {
      const flags = ['-f', 'docker-compose.yml', '--profile', 'demo', 'config', '-q'];
      const ran = composeClis.map(([command, prefix]) => ({
        command,
        result: spawnSync(command, [...prefix, ...flags], { cwd: ROOT, encoding: 'utf8' }),
      }));
      for (const { command, result } of ran) {
        expect({ command, status: result.status, stderr: result.stderr }).toEqual({
          command,
          status: 0,
          stderr: '',
        });
      }
    },
  );
});

const CHART = 'charts/dovewarden';

function chartTemplates(): { name: string; text: string }[] {
  const dir = path.join(ROOT, CHART, 'templates');
  return fs
    .readdirSync(dir)
    .sort()
    .map((name) => ({ name, text: fs.readFileSync(path.join(dir, name), 'utf8') }));
}

function hasPath(values: unknown, keys: string[]): boolean {
  let node = values;
  for (const key of keys) {
    if (typeof node !== 'object' || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

/** Maps whose entries are Kubernetes objects or free-form, documented by their parent. */
const PASS_THROUGH = new Set([
  'resources',
  'podSecurityContext',
  'securityContext',
  'ingestFrom',
  'adminFrom',
  'metricsFrom',
  'labels',
  'annotations',
  'podAnnotations',
  'nodeSelector',
  'tolerations',
  'affinity',
  'env',
]);

/** Keys of values.yaml with no comment line right above them. */
export function uncommentedKeys(text: string): string[] {
  const lines = text.split('\n');
  const stack: { indent: number; key: string }[] = [];
  const missing: string[] = [];
  lines.forEach((line, index) => {
    const match = /^( *)([A-Za-z0-9_.-]+):/.exec(line);
    if (match === null) return;
    const indent = match[1].length;
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
    const inside = stack.some((entry) => PASS_THROUGH.has(entry.key));
    stack.push({ indent, key: match[2] });
    if (inside) return;
    const previous = lines[index - 1]?.trim() ?? '';
    if (!previous.startsWith('#')) missing.push(stack.map((entry) => entry.key).join('.'));
  });
  return missing;
}

describe('charts/dovewarden', () => {
  const valuesText = repoFile(`${CHART}/values.yaml`);
  const values = parse(valuesText) as Record<string, unknown>;

  it('Chart.yaml is a v2 chart with a version', () => {
    const chart = repoYaml(`${CHART}/Chart.yaml`) as Record<string, string>;
    expect(chart['apiVersion']).toBe('v2');
    expect(chart['name']).toBe('dovewarden');
    expect(chart['version']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('every .Values path the templates use exists in values.yaml', () => {
    const missing: string[] = [];
    for (const { name, text } of chartTemplates()) {
      for (const match of text.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
        const keys = match[1].slice(1).split('.');
        if (!hasPath(values, keys)) missing.push(`${name}: .Values.${keys.join('.')}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every key in values.yaml is commented', () => {
    expect(uncommentedKeys(valuesText)).toEqual([]);
    // The checker itself: a bare key is caught.
    expect(uncommentedKeys('# -- ok\na: 1\nb:\n  # -- ok\n  c: 2\n  d: 3\n')).toEqual(['b', 'b.d']);
  });

  it('templates and values use only DOVEWARDEN_* names the config schema knows', () => {
    const text = chartTemplates()
      .map((template) => template.text)
      .join('\n');
    for (const name of REDIS_DISTRIBUTED_ENV) expect(text).toContain(name);
    expect(unknownEnv(text)).toEqual([]);
    expect(unknownEnv(valuesText)).toEqual([]);
  });

  it('every template opens and closes its blocks in pairs', () => {
    for (const { name, text } of chartTemplates()) {
      const actions = [...text.matchAll(/\{\{-?\s*(\/\*[\s\S]*?\*\/|[^}]*?)\s*-?\}\}/g)].map(
        (match) => match[1].trim(),
      );
      const opened = actions.filter((action) => /^(if|range|with|define)\b/.test(action)).length;
      const closed = actions.filter((action) => /^end\b/.test(action)).length;
      expect({ name, opened }).toEqual({ name, opened: closed });
    }
  });

  it("the worker's grace period outlasts its shutdown timeout", () => {
    const worker = values['worker'] as Record<string, number>;
    expect(worker['terminationGracePeriodSeconds']).toBeGreaterThan(
      worker['shutdownTimeoutSeconds'],
    );
    // And the chart refuses a values file that breaks this.
    expect(repoFile(`${CHART}/templates/deployments.yaml`)).toContain(
      'fail "worker.terminationGracePeriodSeconds must be above worker.shutdownTimeoutSeconds',
    );
  });

  it('the grafana dashboards ConfigMap carries the sidecar label', () => {
    const dashboards = values['grafanaDashboards'] as Record<string, string>;
    expect(dashboards['label']).toBe('grafana_dashboard');
    expect(dashboards['labelValue']).toBe('1');
  });
});
