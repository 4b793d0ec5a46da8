// The compose demo as a user runs it: docs/deploy.md's quick start, on the real
// docker-compose.yml, under a project name of its own. Every service but grafana (its image is
// not built where no registry is reachable; tests/deploy checks its provisioning statically)
// and the demo profile. Build the images first: scripts/docker-images.sh.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import {
  CONVERGENCE_MULTIPLE,
  appendMessage,
  calibrate,
  closeImap,
  configuredPlus,
  connectImap,
  listSubjects,
  relativeBound,
  waitUntil,
  type Reference,
} from '@dovewarden/testkit';
import type { ImapFlow } from 'imapflow';
import {
  APP_IMAGE,
  basicAuth,
  containerState,
  describeWithDocker,
  docker,
  dockerRunReference,
  httpGet,
  repoFile,
  report,
  run,
  uniqueName,
  type RunResult,
} from './docker';

const composeFile = repoFile('docker-compose.yml');

/** Every service the quick start starts: all but grafana and the demo profile. */
const SERVICES = [
  'redis',
  'dovecot-a',
  'dovecot-b',
  'ingest',
  'worker',
  'scheduler',
  'admin',
  'prometheus',
];
const APPS = ['ingest', 'worker', 'scheduler', 'admin'];
const LEFT_OUT = ['grafana', 'demo'];

/** docs/deploy.md's quick start, command for command; the test runs them with its own -p. */
const QUICK_START = [
  'scripts/docker-images.sh',
  `docker-compose -p dovewarden up -d ${SERVICES.join(' ')}`,
  'docker-compose -p dovewarden ps',
  `docker-compose -p dovewarden up -d --scale worker=3 ${SERVICES.join(' ')}`,
  'docker-compose -p dovewarden down -v',
];

/** The images of the services started, as docker-compose.yml names them. */
const IMAGES = [
  ...new Set(
    [...composeFile.matchAll(/^\s+image:\s*['"]?([^\s'"]+)/gm)]
      .map((match) => match[1])
      .filter((image) => !image.startsWith('grafana/')),
  ),
];

/** user -> password, from deploy/dovecot/users (user:{PLAIN}password:uid:gid::home::). */
const PASSWORDS = new Map(
  repoFile('deploy/dovecot/users')
    .split('\n')
    .map((line) => /^([^:#\s]+):\{PLAIN\}([^:]*):/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1], match[2]]),
);
const USERS = [...PASSWORDS.keys()];

/** Bull Board's password: the environment's, else docker-compose.yml's default. */
const ADMIN_PASSWORD = ((): string => {
  const fallback = /DOVEWARDEN_ADMIN_PASSWORD:-([^}]+)\}/.exec(composeFile);
  if (fallback === null) throw new Error('docker-compose.yml has no admin password default');
  return process.env.DOVEWARDEN_ADMIN_PASSWORD || fallback[1];
})();

/** docker-compose (v1, Debian's) where installed, else the v2 plugin: same commands. */
const COMPOSE: [string, string[]] =
  spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0
    ? ['docker-compose', []]
    : ['docker', ['compose']];

const A = { host: '127.0.0.1', imapPort: 1143 };
const B = { host: '127.0.0.1', imapPort: 2143 };

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

interface Target {
  labels: Record<string, string>;
  health: string;
  lastError: string;
  scrapeUrl: string;
}

describeWithDocker('the compose demo (docker-compose.yml)', [...IMAGES, APP_IMAGE], () => {
  const project = uniqueName('dwcompose');
  let up = false;
  let failed = false;
  let dockerRun: Reference;
  let imap: Reference;

  function compose(args: readonly string[], timeoutMs?: number): Promise<RunResult> {
    return run(COMPOSE[0], [...COMPOSE[1], '-p', project, ...args], { timeoutMs });
  }

  async function composeOk(args: readonly string[]): Promise<string> {
    const result = await compose(args);
    if (result.code !== 0)
      throw new Error(
        `${COMPOSE.flat().join(' ')} -p ${project} ${args.join(' ')} exited ${result.code}:\n${result.stderr}`,
      );
    return result.stdout + result.stderr;
  }

  /** name, service and state of every container of the project. */
  async function containers(): Promise<{ name: string; service: string; id: string }[]> {
    const out = await docker([
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.ID}} {{.Names}} {{.Label "com.docker.compose.service"}}',
    ]);
    return out
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const [id = '', name = '', service = ''] = line.trim().split(/\s+/);
        return { id, name, service };
      });
  }

  /** Waits until every container runs and every one with a healthcheck is healthy. */
  async function waitHealthy(
    expected: Record<string, number>,
    configuredMs: number,
  ): Promise<void> {
    let last = '';
    const took = await waitUntil(
      async () => {
        const list = await containers();
        const states = await Promise.all(
          list.map(async (c) => ({ ...c, state: await containerState(c.id) })),
        );
        last = states
          .map((c) => `${c.name}: ${c.state.status}/${c.state.health ?? 'no healthcheck'}`)
          .join(', ');
        const dead = states.find((c) => c.state.status === 'exited');
        if (dead !== undefined)
          throw new Error(`${dead.name} exited ${dead.state.exitCode}: ${last}`);
        const counts: Record<string, number> = {};
        for (const c of states) counts[c.service] = (counts[c.service] ?? 0) + 1;
        return (
          Object.entries(expected).every(([service, n]) => counts[service] === n) &&
          states.every(
            (c) => c.state.status === 'running' && (c.state.health ?? 'healthy') === 'healthy',
          )
        );
      },
      configuredPlus(configuredMs, dockerRun, 30),
      () => `every container healthy (${JSON.stringify(expected)}); last: ${last}`,
      500,
    );
    report(`compose: healthy after ${took} ms: ${last}`);
  }

  async function targets(): Promise<Target[]> {
    const prometheus = (await containers()).find((c) => c.service === 'prometheus');
    if (prometheus === undefined) throw new Error('no prometheus container');
    const out = await docker([
      'exec',
      prometheus.id,
      'wget',
      '-q',
      '-O',
      '-',
      'http://127.0.0.1:9090/api/v1/targets',
    ]);
    return (JSON.parse(out) as { data: { activeTargets: Target[] } }).data.activeTargets.filter(
      (target) => target.labels.job === 'dovewarden',
    );
  }

  /** Waits until Prometheus scrapes exactly the app containers, every one up. */
  async function waitTargetsUp(expected: number): Promise<Target[]> {
    let seen: Target[] = [];
    // dns_sd_configs refreshes every 15 s and scrapes every 15 s (deploy/prometheus).
    const took = await waitUntil(
      async () => {
        seen = await targets();
        return seen.length === expected && seen.every((target) => target.health === 'up');
      },
      configuredPlus(30_000, dockerRun, 30),
      () =>
        `${expected} dovewarden targets up in Prometheus; last: ${JSON.stringify(
          seen.map((t) => [t.labels.dovewarden_app, t.scrapeUrl, t.health, t.lastError]),
        )}`,
      1000,
    );
    report(`compose: Prometheus scrapes ${expected} app containers, all up, after ${took} ms`);
    return seen;
  }

  async function withImap<T>(
    server: typeof A,
    user: string,
    fn: (client: ImapFlow) => Promise<T>,
  ): Promise<T> {
    const client = await connectImap(server, user, PASSWORDS.get(user));
    try {
      return await fn(client);
    } finally {
      await closeImap(client);
    }
  }

  /** APPENDs on A and waits until B shows the message; returns how long that took. */
  async function appendAndConverge(user: string, subject: string): Promise<number> {
    await withImap(A, user, (client) => appendMessage(client, 'INBOX', { subject }));
    return waitUntil(
      () =>
        withImap(B, user, async (client) =>
          (await listSubjects(client, 'INBOX')).includes(subject),
        ),
      relativeBound(imap, CONVERGENCE_MULTIPLE),
      `"${subject}" appended for ${user} on dovecot-a to appear on dovecot-b`,
      100,
    );
  }

  /** The workers whose logs since `since` show a sync. */
  async function workersThatSynced(since: string): Promise<string[]> {
    const workers = (await containers()).filter((c) => c.service === 'worker');
    const synced: string[] = [];
    for (const worker of workers) {
      const logs = await run('docker', ['logs', '--since', since, worker.id]);
      if (/"message":"synced"/.test(logs.stdout + logs.stderr)) synced.push(worker.name);
    }
    return synced;
  }

  beforeAll(async () => {
    dockerRun = await dockerRunReference();
  });

  afterAll(async () => {
    if (!up) return;
    if (failed) {
      const ps = await compose(['ps']);
      const logs = await compose(['logs', '--no-color', '--tail', '30']);
      report(`compose: after a failure:\n${ps.stdout}\n${logs.stdout.slice(-20_000)}`);
    }
    const down = await compose(['down', '-v', '--remove-orphans']);
    if (down.code !== 0) report(`compose: cleanup down -v exited ${down.code}: ${down.stderr}`);
  });

  /** Runs a step; a failure is remembered, so that afterAll prints the project's logs. */
  function step(name: string, fn: () => Promise<void>): void {
    it(name, async () => {
      if (failed) throw new Error('an earlier step failed');
      try {
        await fn();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  }

  step('docs/deploy.md quick start is what this test runs', async () => {
    const doc = repoFile('docs/deploy.md');
    const section = /### Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(doc);
    expect(section).not.toBeNull();
    const commands = section![1]
      .split('\n')
      .map((line) => line.replace(/\s+#.*$/, '').trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(commands).toEqual(QUICK_START);
    const listed = (await composeOk(['config', '--services'])).split('\n').filter(Boolean);
    expect(listed.filter((service) => !LEFT_OUT.includes(service)).sort()).toEqual(
      [...SERVICES].sort(),
    );
  });

  step('up -d brings every service but grafana to healthy', async () => {
    for (const port of [1143, 2143, 3000])
      if (!(await portFree(port)))
        throw new Error(`127.0.0.1:${port} is taken: docker-compose.yml publishes it`);
    up = true;
    const started = performance.now();
    await composeOk(['up', '-d', ...SERVICES]);
    report(`compose: up -d returned after ${Math.round(performance.now() - started)} ms`);
    await composeOk(['ps']);
    // The apps' first healthcheck runs 10 s after they start, the Dovecots' and Redis' 5 s;
    // the apps start once Redis and both Dovecots are healthy. A failed first check costs 10 s.
    await waitHealthy(
      {
        redis: 1,
        'dovecot-a': 1,
        'dovecot-b': 1,
        ingest: 1,
        worker: 2,
        scheduler: 1,
        admin: 1,
        prometheus: 1,
      },
      5_000 + 10_000 + 10_000,
    );
    imap = await calibrate(
      'IMAP login, STATUS INBOX and logout on dovecot-a',
      () => withImap(A, USERS[0], (client) => client.status('INBOX', { messages: true })),
      { samples: 5 },
    );
  });

  step('a message APPENDed on dovecot-a reaches dovecot-b', async () => {
    const took = await appendAndConverge(USERS[0], `compose smoke ${project}`);
    report(`compose: APPEND on A visible on B after ${took} ms`);
  });

  step('Bull Board answers on 127.0.0.1:3000 with its credentials, and 401 without', async () => {
    const anonymous = await httpGet('http://127.0.0.1:3000/');
    expect(anonymous?.status).toBe(401);
    expect(anonymous?.headers.get('www-authenticate')).toMatch(/^Basic/);
    const wrong = await httpGet('http://127.0.0.1:3000/', basicAuth('admin', `${ADMIN_PASSWORD}x`));
    expect(wrong?.status).toBe(401);
    const board = await httpGet('http://127.0.0.1:3000/', basicAuth('admin', ADMIN_PASSWORD));
    expect(board?.status).toBe(200);
    expect(board?.body).toContain('<title>dovewarden</title>');
    // The admin API knows the user the APPEND above synced.
    const user = await httpGet(
      `http://127.0.0.1:3000/api/users/${USERS[0]}`,
      basicAuth('admin', ADMIN_PASSWORD),
    );
    expect(user?.status).toBe(200);
    const status = JSON.parse(user!.body) as {
      user: string;
      failed: boolean;
      lastSuccess: unknown;
    };
    expect(status).toMatchObject({ user: USERS[0], failed: false });
    expect(status.lastSuccess).toEqual(expect.any(Number));
  });

  step('Prometheus scrapes every app container, every target up', async () => {
    const seen = await waitTargetsUp(5);
    expect([...new Set(seen.map((t) => t.labels.dovewarden_app))].sort()).toEqual([...APPS].sort());
  });

  step('up -d --scale worker=3 gives three workers that share the work', async () => {
    const since = new Date().toISOString();
    await composeOk(['up', '-d', '--scale', 'worker=3', ...SERVICES]);
    await waitHealthy(
      {
        redis: 1,
        'dovecot-a': 1,
        'dovecot-b': 1,
        ingest: 1,
        worker: 3,
        scheduler: 1,
        admin: 1,
        prometheus: 1,
      },
      10_000 + 10_000,
    );
    // Rounds of one APPEND per user at once, until two workers or more have synced since the
    // scale-up (BullMQ hands each job to one waiting worker; which one varies).
    let synced: string[] = [];
    let round = 0;
    for (; round < 10 && synced.length < 2; round += 1) {
      await Promise.all(
        USERS.map((user) => appendAndConverge(user, `compose scale ${project} ${round} ${user}`)),
      );
      synced = await workersThatSynced(since);
    }
    report(
      `compose: after ${round} round(s) of ${USERS.length} APPENDs, synced by ${synced.join(', ')}`,
    );
    expect(synced.length).toBeGreaterThanOrEqual(2);
    await waitTargetsUp(6);
  });

  step('down -v leaves no container, network or volume of the project', async () => {
    const before = await containers();
    const volumes = new Set<string>();
    for (const c of before) {
      const mounts = JSON.parse(
        await docker(['inspect', '--format', '{{json .Mounts}}', c.id]),
      ) as { Type: string; Name?: string }[];
      for (const mount of mounts)
        if (mount.Type === 'volume' && mount.Name) volumes.add(mount.Name);
    }
    const networks = (
      await docker([
        'network',
        'ls',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${project}`,
      ])
    )
      .split('\n')
      .filter(Boolean);
    expect(networks.length).toBeGreaterThan(0);
    expect(volumes.size).toBeGreaterThan(0);

    const started = performance.now();
    await composeOk(['down', '-v']);
    up = false;
    report(`compose: down -v took ${Math.round(performance.now() - started)} ms`);

    const label = `label=com.docker.compose.project=${project}`;
    expect(await docker(['ps', '-a', '-q', '--filter', label])).toBe('');
    expect(await docker(['network', 'ls', '-q', '--filter', label])).toBe('');
    expect(await docker(['volume', 'ls', '-q', '--filter', label])).toBe('');
    // Anonymous volumes (the image's /data) carry no project label: look them up by name.
    const left = [];
    for (const name of volumes)
      if ((await run('docker', ['volume', 'inspect', name])).code === 0) left.push(name);
    expect(left).toEqual([]);
  });
});
