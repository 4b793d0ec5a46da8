import { spawnSync } from 'node:child_process';
import { DovecotError } from './dovecot-error';
import { runCommand } from './run-command';
import { hangGuard } from '../timing/calibration';

/**
 * Where a test's Dovecot 2.4 runs: in the Debian 13 chroot (scripts/setup-dovecot.sh) or in a
 * container started through testcontainers. Dovecot 2.3 always runs from the machine's packages.
 */
export type DovecotBackend = 'chroot' | 'container';

export const DOVECOT_BACKENDS: readonly DovecotBackend[] = ['chroot', 'container'];

/** The image of the container backend: the official one, or a local build of the same tag. */
export function dovecot24Image(): string {
  return process.env.DOVEWARDEN_DOVECOT24_IMAGE || 'dovecot/dovecot:2.4.1';
}

/** null when the Docker engine answers, else why not. */
export function dockerMissing(): string | null {
  const probe = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: hangGuard(250).ms,
  });
  if (probe.error !== undefined) return `no docker command (${probe.error.message})`;
  return probe.status === 0 ? null : `the Docker engine does not answer: ${probe.stderr.trim()}`;
}

let chosen: DovecotBackend | undefined;

/**
 * The backend of tests that do not ask for one: DOVEWARDEN_DOVECOT_BACKEND when set, else the
 * container when a Docker engine answers (testcontainers pulls the official image on a
 * developer's machine), else the chroot. Decided once per process.
 */
export function defaultDovecotBackend(): DovecotBackend {
  if (chosen !== undefined) return chosen;
  const asked = process.env.DOVEWARDEN_DOVECOT_BACKEND;
  if (asked !== undefined && asked !== '') {
    if (!(DOVECOT_BACKENDS as readonly string[]).includes(asked))
      throw new DovecotError(
        'INVALID_OPTIONS',
        `DOVEWARDEN_DOVECOT_BACKEND=${asked}: use ${DOVECOT_BACKENDS.join(' or ')}`,
      );
    chosen = asked as DovecotBackend;
  } else {
    chosen = dockerMissing() === null ? 'container' : 'chroot';
  }
  return chosen;
}

/**
 * Where images keep Dovecot: Debian's packages in /usr, the official image in /dovecot (its
 * own build). A shell finds the binary and execs it with the arguments after its name.
 */
const SBIN_DIRS = ['/dovecot/sbin', '/usr/sbin', '/usr/local/sbin'];
const BIN_DIRS = ['/dovecot/bin', '/usr/bin', '/usr/local/bin'];

function execFrom(dirs: readonly string[], binary: string): string {
  return `for d in ${dirs.join(' ')}; do [ -x "$d/${binary}" ] && exec "$d/${binary}" "$@"; done; echo "no ${binary} in ${dirs.join(', ')}" >&2; exit 127`;
}

/** The started container's handle, as testcontainers gives it; only stop() is used. */
interface StartedContainer {
  getId(): string;
  stop(options?: { timeout?: number; remove?: boolean }): Promise<unknown>;
}

/**
 * One Dovecot 2.4 master in a container, started through testcontainers. The container shares
 * the host's network (the test's ports, the events URL and A's dsync to B stay on 127.0.0.1, as
 * with the chroot) and mounts the instance folder at the same path, so logs and homes read the
 * same on both sides. Its master is a host process too: the testkit's pid-based checks, watchdog
 * and kill work on it unchanged.
 */
export class DovecotContainer {
  private constructor(
    private readonly started: StartedContainer,
    /** The master's PID as the host sees it. */
    readonly hostPid: number,
  ) {}

  get id(): string {
    return this.started.getId();
  }

  static async start(options: {
    image: string;
    /** The instance folder, mounted at the same path. */
    dir: string;
    configPath: string;
    name: string;
    timeoutMs: number;
  }): Promise<DovecotContainer> {
    // Ryuk, testcontainers' reaper, is an image of its own that cannot be pulled where no
    // registry is reachable; the testkit's own watchdog and auto-removal clean up instead.
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    const { GenericContainer } = await import('testcontainers');
    let started: StartedContainer;
    try {
      started = await new GenericContainer(options.image)
        .withName(options.name)
        .withNetworkMode('host')
        // Root in the container: the generated config runs the master as root and mail as
        // uid 5000, as in the chroot (the official image's own config is rootless instead).
        .withUser('0:0')
        .withEntrypoint(['/bin/sh', '-c', execFrom(SBIN_DIRS, 'dovecot'), 'dovecot'])
        .withCommand(['-F', '-c', options.configPath])
        .withBindMounts([{ source: options.dir, target: options.dir, mode: 'rw' }])
        .withLabels({ 'org.dovewarden.test': options.name })
        .withAutoRemove(true)
        // No exposed ports (host network), so testcontainers waits for nothing; the caller
        // waits for Dovecot's listeners itself, as with the chroot.
        .withStartupTimeout(options.timeoutMs)
        .start();
    } catch (error) {
      throw new DovecotError(
        'DOVECOT_START_FAILED',
        `container ${options.image} did not start: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const inspected = await runCommand('docker', [
      'inspect',
      '--format',
      '{{.State.Pid}}',
      started.getId(),
    ]);
    const hostPid = Number(inspected.stdout.trim());
    if (inspected.exitCode !== 0 || !Number.isInteger(hostPid) || hostPid <= 0) {
      await started.stop({ timeout: 0 }).catch(() => undefined);
      throw new DovecotError(
        'DOVECOT_START_FAILED',
        `container ${started.getId()} has no running master: ${inspected.stderr.trim()}`,
      );
    }
    return new DovecotContainer(started, hostPid);
  }

  /** `docker exec` of doveadm in the container, with stdin; never throws on a non-zero exit. */
  doveadm(args: readonly string[], options: { input?: string | Buffer; timeoutMs?: number }) {
    return runCommand(
      'docker',
      ['exec', '-i', this.id, '/bin/sh', '-c', execFrom(BIN_DIRS, 'doveadm'), 'doveadm', ...args],
      options,
    );
  }

  /** Removes the container if it is still there (the master's exit removes it already). */
  async remove(): Promise<void> {
    await this.started.stop({ timeout: 0, remove: true }).catch(() => undefined);
  }
}
