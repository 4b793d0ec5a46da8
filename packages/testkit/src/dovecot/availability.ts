import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  type DovecotBackend,
  defaultDovecotBackend,
  dockerMissing,
  dovecot24Image,
} from './dovecot-container';
import { DovecotError } from './dovecot-error';
import { hangGuard } from '../timing/calibration';

export type DovecotVersion = '2.4' | '2.3';

export type DovecotAvailability = { ok: true; root: string } | { ok: false; reason: string };

export const DEFAULT_DOVECOT24_ROOT = '/var/cache/dovewarden/dovecot-2.4';
const DOVECOT23_BINARY = '/usr/sbin/dovecot';

export function dovecot24Root(): string {
  return process.env.DOVEWARDEN_DOVECOT24_ROOT || DEFAULT_DOVECOT24_ROOT;
}

/** The monorepo root is the folder holding turbo.json; the testkit may run from src or dist. */
export function findRepoRoot(from: string = __dirname): string | null {
  let dir = path.resolve(from);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'turbo.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The monorepo root; throws where there is none (the testkit outside its checkout). */
export function repoRoot(): string {
  const root = findRepoRoot();
  if (root === null) throw new Error('cannot find the repository root (turbo.json)');
  return root;
}

/** A file of the repository, by its path from the root. */
export function repoFile(relative: string): string {
  return fs.readFileSync(path.join(repoRoot(), relative), 'utf8');
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function isReady24(root: string): boolean {
  return (
    fs.existsSync(path.join(root, '.dovewarden-ready')) &&
    fs.existsSync(path.join(root, 'usr/sbin/dovecot'))
  );
}

type SetupPlan =
  | { done: DovecotAvailability }
  | { command: string; args: string[]; env: NodeJS.ProcessEnv; root: string };

/** Decides, without side effects, whether the chroot is usable, missing for good, or buildable. */
function plan24(): SetupPlan {
  const root = dovecot24Root();
  // Starting a chrooted Dovecot in its own mount namespace needs root, cached or not.
  if (!isRoot()) {
    return {
      done: {
        ok: false,
        reason: `Dovecot 2.4 runs in a chroot (${root}), which needs root; run the tests as root`,
      },
    };
  }
  if (isReady24(root)) return { done: { ok: true, root } };
  const repo = findRepoRoot();
  const script = repo === null ? null : path.join(repo, 'scripts/setup-dovecot.sh');
  if (script === null || !fs.existsSync(script)) {
    return {
      done: {
        ok: false,
        reason: `the Dovecot 2.4 chroot is missing at ${root} and scripts/setup-dovecot.sh was not found`,
      },
    };
  }
  const env = { ...process.env, DOVEWARDEN_DOVECOT24_ROOT: root };
  // Parallel jest workers may all find the chroot missing; flock makes them build it once.
  const lock = path.join(path.dirname(root), `.${path.basename(root)}.lock`);
  fs.mkdirSync(path.dirname(root), { recursive: true });
  if (fs.existsSync('/usr/bin/flock'))
    return { command: '/usr/bin/flock', args: [lock, 'bash', script], env, root };
  return { command: 'bash', args: [script], env, root };
}

function afterSetup(root: string, exitCode: number | null, stderr: string): DovecotAvailability {
  if (exitCode === 0 && isReady24(root)) return { ok: true, root };
  const last = stderr.trim().split('\n').slice(-3).join(' | ');
  return {
    ok: false,
    reason: `scripts/setup-dovecot.sh failed (exit ${String(exitCode)}): ${last || 'no output'}`,
  };
}

/** Makes the Dovecot 2.4 chroot available, building it with scripts/setup-dovecot.sh if we may. */
export async function ensureDovecot24(): Promise<DovecotAvailability> {
  const plan = plan24();
  if ('done' in plan) return plan.done;
  process.stderr.write(
    `Dovecot 2.4 chroot missing at ${plan.root}: building it (about a minute)\n`,
  );
  return new Promise((resolve) => {
    const child = spawn(plan.command, plan.args, {
      env: plan.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      process.stderr.write(chunk);
    });
    child.on('error', (err) =>
      resolve({ ok: false, reason: `cannot run scripts/setup-dovecot.sh: ${err.message}` }),
    );
    child.on('close', (code) => resolve(afterSetup(plan.root, code, stderr)));
  });
}

/**
 * The blocking twin of ensureDovecot24, for deciding at test-definition time whether a describe
 * block runs: jest offers no way to skip tests from an async beforeAll.
 */
export function ensureDovecot24Sync(): DovecotAvailability {
  const plan = plan24();
  if ('done' in plan) return plan.done;
  process.stderr.write(
    `Dovecot 2.4 chroot missing at ${plan.root}: building it (about a minute)\n`,
  );
  const result = spawnSync(plan.command, plan.args, {
    env: plan.env,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (result.error)
    return { ok: false, reason: `cannot run scripts/setup-dovecot.sh: ${result.error.message}` };
  process.stderr.write(result.stderr);
  return afterSetup(plan.root, result.status, result.stderr);
}

/** Dovecot 2.3 comes from Debian 12's packages; the harness only checks for it. */
export function ensureDovecot23Sync(): DovecotAvailability {
  if (!isRoot()) return { ok: false, reason: 'running Dovecot 2.3 test instances needs root' };
  if (!fs.existsSync(DOVECOT23_BINARY)) {
    return {
      ok: false,
      reason: `${DOVECOT23_BINARY} is missing: apt-get install -y dovecot-core dovecot-imapd dovecot-lmtpd`,
    };
  }
  const result = spawnSync(DOVECOT23_BINARY, ['--version'], { encoding: 'utf8' });
  const version = (result.stdout ?? '').trim();
  if (result.status !== 0 || !version.startsWith('2.3')) {
    return {
      ok: false,
      reason: `${DOVECOT23_BINARY} --version says "${version || result.stderr.trim()}", not 2.3`,
    };
  }
  return { ok: true, root: '/' };
}

export function ensureDovecot23(): Promise<DovecotAvailability> {
  return Promise.resolve(ensureDovecot23Sync());
}

const warned = new Set<string>();

/** `CI=true`: a missing dependency of a test is then a failure, never a skip. */
export function isCi(): boolean {
  return process.env.CI === 'true';
}

/**
 * The one rule for every optional dependency of a test (Dovecot, root, redis-server, Chromium,
 * a compose CLI): given `missing === null` it returns true; otherwise it prints one loud
 * `SKIPPING <what>: <missing>` line (once per process) and returns false, except under
 * CI=true, where it throws instead.
 */
export function requireOrSkip(what: string, missing: string | null): boolean {
  if (missing === null) return true;
  const line = `SKIPPING ${what}: ${missing}`;
  if (isCi()) throw new Error(`CI=true and ${line}`);
  if (!warned.has(line)) {
    warned.add(line);
    console.warn(line);
  }
  return false;
}

/** `describe` when the dependency is there, `describe.skip` after the loud line when not. */
export function describeIf(what: string, missing: string | null): jest.Describe {
  return requireOrSkip(what, missing) ? describe : describe.skip;
}

/** `it` when the dependency is there, `it.skip` after the loud line when not. */
export function itIf(what: string, missing: string | null): jest.It {
  return requireOrSkip(what, missing) ? it : it.skip;
}

/** null when `command` is on PATH, else why it is missing and how to get it. */
export function missingCommand(command: string, install: string): string | null {
  const probe = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${command} is not on PATH (${install})`;
}

/**
 * Tells a test file whether its end-to-end tests can run. Without Dovecot (or root) it prints
 * one loud line and returns false, except under CI=true, where a missing Dovecot is a failure.
 */
export function requireDovecotOrSkip(
  version: DovecotVersion = '2.4',
  backend: DovecotBackend = version === '2.4' ? defaultDovecotBackend() : 'chroot',
): boolean {
  const reason = version === '2.3' ? reasonOf(ensureDovecot23Sync()) : dovecot24Missing(backend);
  if (reason === null) return true;
  const missing = `Dovecot ${version} (${backend}) unavailable: ${reason}`;
  if (isCi())
    throw new DovecotError(
      'DOVECOT_UNAVAILABLE',
      `CI=true and SKIPPING end-to-end tests: ${missing}`,
    );
  return requireOrSkip('end-to-end tests', missing);
}

function reasonOf(availability: DovecotAvailability): string | null {
  return availability.ok ? null : availability.reason;
}

/**
 * null when Dovecot 2.4 can run on that backend, else why not: the chroot (built here if
 * missing), or a Docker engine with the image, found locally or pulled (where no registry is
 * reachable, scripts/docker-images.sh builds it under the official tag).
 */
export function dovecot24Missing(backend: DovecotBackend): string | null {
  if (backend === 'chroot') return reasonOf(ensureDovecot24Sync());
  const docker = dockerMissing();
  if (docker !== null) return docker;
  const image = dovecot24Image();
  if (spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status === 0)
    return null;
  const pulled = spawnSync('docker', ['pull', image], {
    encoding: 'utf8',
    timeout: hangGuard(2500).ms,
  });
  return pulled.status === 0
    ? null
    : `image ${image} is not here and cannot be pulled (scripts/docker-images.sh builds it): ${pulled.stderr.trim().split('\n').pop() ?? ''}`;
}

/**
 * `describe` when Dovecot can run, `describe.skip` (after the loud line) when it cannot. For
 * 2.4, on the backend given, else the default one (defaultDovecotBackend).
 */
export function describeWithDovecot(
  version: DovecotVersion = '2.4',
  backend?: DovecotBackend,
): jest.Describe {
  return requireDovecotOrSkip(version, backend) ? describe : describe.skip;
}

/** For tests that start their own redis-server processes (cluster, Sentinel, a killed Redis). */
export function missingRedisServer(): string | null {
  return missingCommand('redis-server', 'apt-get install redis-server');
}
