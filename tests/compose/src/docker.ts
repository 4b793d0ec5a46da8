import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import {
  calibrate,
  hangGuard,
  isCi,
  repoFile,
  repoRoot,
  type Reference,
} from '@dovewarden/testkit';

/** One line on stderr, outside jest's console capture (what was measured, what was skipped). */
export function report(line: string): void {
  fs.writeSync(2, line.endsWith('\n') ? line : `${line}\n`);
}

export const ROOT = repoRoot();

export { repoFile };

/** The image every dovewarden service of docker-compose.yml runs. */
export const APP_IMAGE = process.env.DOVEWARDEN_IMAGE || 'dovewarden:local';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end; never throws on a non-zero exit (check `code`). `timeoutMs` is a
 * hang guard: past it the command is killed and the result says so.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? hangGuard(3000).ms;
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd ?? ROOT,
        env: options.env ?? process.env,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        let code = 0;
        if (error !== null) {
          const failed = error as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
          code = typeof failed.code === 'number' ? failed.code : 1;
          if (failed.killed === true)
            stderr += `\n(killed after the hang guard of ${timeoutMs} ms)`;
          else if (typeof failed.code === 'string') stderr += `\n${failed.message}`;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `docker ...`; throws with the output when it exits non-zero. */
export async function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await run('docker', args, { timeoutMs });
  if (result.code !== 0)
    throw new Error(`docker ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

/**
 * null when the Docker engine answers and every image is present, else why not, and what to run.
 * Under CI=true the caller fails on it; elsewhere a missing engine is a loud skip.
 */
export function dockerMissing(images: readonly string[]): string | null {
  const probe = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: hangGuard(500).ms,
  });
  if (probe.error !== undefined) return `no docker command (${probe.error.message})`;
  if (probe.status !== 0)
    return `the Docker engine does not answer (start dockerd): ${probe.stderr.trim()}`;
  const absent = images.filter(
    (image) => spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status !== 0,
  );
  return absent.length === 0
    ? null
    : `image(s) ${absent.join(', ')} not found: run scripts/docker-images.sh (or docker build / pull them)`;
}

/**
 * describe() when Docker and the images are there. Otherwise, under CI=true, one failing test
 * that says what is missing (never a skip); elsewhere a loud line and describe.skip.
 */
export function describeWithDocker(
  name: string,
  images: readonly string[],
  body: () => void,
): void {
  const missing = dockerMissing(images);
  if (missing === null) {
    describe(name, body);
  } else if (isCi()) {
    describe(name, () => {
      it('has a Docker engine and the images', () => {
        throw new Error(`CI=true and ${name} cannot run: ${missing}`);
      });
    });
  } else {
    report(`SKIPPING ${name}: ${missing}\n`);
    describe.skip(name, body);
  }
}

/** A name no other run on this machine uses: compose project, container, network. */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid}${randomBytes(3).toString('hex')}`;
}

/**
 * The reference of every bound about containers: `docker run --rm` of the dovewarden image
 * printing its version (container create, start, node with the CLI's modules, exit, removal),
 * measured in this run on this machine.
 */
export function dockerRunReference(): Promise<Reference> {
  return calibrate(
    `docker run --rm ${APP_IMAGE} --version`,
    async () => {
      await docker(['run', '--rm', '--read-only', '--tmpfs', '/tmp', APP_IMAGE, '--version']);
    },
    { samples: 3 },
  );
}

export interface ContainerState {
  status: string;
  exitCode: number;
  oomKilled: boolean;
  health: string | null;
}

export async function containerState(name: string): Promise<ContainerState> {
  const out = await docker(['inspect', '--format', '{{json .State}}', name]);
  const state = JSON.parse(out) as {
    Status: string;
    ExitCode: number;
    OOMKilled: boolean;
    Health?: { Status: string };
  };
  return {
    status: state.Status,
    exitCode: state.ExitCode,
    oomKilled: state.OOMKilled,
    health: state.Health?.Status ?? null,
  };
}

/** The host port a container publishes for `port`/tcp (published on 127.0.0.1). */
export async function publishedPort(name: string, port: number): Promise<number> {
  const out = await docker(['port', name, `${port}/tcp`]);
  const match = /:(\d+)\s*$/m.exec(out.trim());
  if (match === null) throw new Error(`${name} publishes no port for ${port}: ${out}`);
  return Number(match[1]);
}

/** GET with a hang guard; resolves to the status and body, or null when nothing answers. */
export async function httpGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers } | null> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(hangGuard(250).ms) });
    return { status: response.status, body: await response.text(), headers: response.headers };
  } catch {
    return null;
  }
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
