import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '../dovecot';
import { type Bound, asBound, nodeStartReference, relativeBound } from '../timing/calibration';
import { sleep } from '../timing/sleep';

export interface DovewardenProcessOptions {
  /** e.g. ['ingest'] or ['all']. */
  args: string[];
  /** DOVEWARDEN_* settings; nothing else of the test's environment leaks in but PATH and HOME. */
  env: Record<string, string>;
  /** Port of METRICS_ADDR, to poll /readyz. */
  metricsPort: number;
  cwd?: string;
  /** Options for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Its own process group, as a shell or supervisor starts it, so killGroup() reaches it all. */
  detached?: boolean;
}

/** Hang guards, in starts of the dovewarden command (about 0.5 s each on a quiet machine). */
const READY_MULTIPLE = 25;
const STOP_MULTIPLE = 30;

/**
 * The options for node that the `dovewarden` command's own first line gives
 * (`#!/usr/bin/env -S node --max-semi-space-size=…`), so that a test runs it as the bin does.
 */
export function cliNodeFlags(script: string = cliPath()): string[] {
  const firstLine = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\S*env -S node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(firstLine);
  return (
    match?.[1]
      ?.trim()
      .split(/\s+/)
      .filter((flag) => flag !== '') ?? []
  );
}

export function cliPath(): string {
  const root = findRepoRoot();
  if (root === null) throw new Error('cannot find the repository root (turbo.json)');
  const path = join(root, 'apps', 'cli', 'dist', 'main.js');
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build first`);
  return path;
}

/**
 * The built `dovewarden` command as a real child process, the way an operator runs it.
 * Output is kept so that a failing test can show what the process said.
 */
export class DovewardenProcess {
  readonly output: string[] = [];
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    private readonly child: ChildProcess,
    readonly metricsPort: number,
  ) {
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') this.output.push(line);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  static start(options: DovewardenProcessOptions): DovewardenProcess {
    const child = spawn(
      process.execPath,
      [...cliNodeFlags(), ...(options.nodeArgs ?? []), cliPath(), ...options.args],
      {
        cwd: options.cwd ?? process.cwd(),
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          ...options.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: options.detached ?? false,
      },
    );
    return new DovewardenProcess(child, options.metricsPort);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Polls /readyz until it answers 200 and returns how long that took; fails early if the
   * process exits. The default bound, a hang guard, is 25 starts of the dovewarden command on
   * this machine (`--version`, measured once per test file).
   */
  async waitUntilReady(bound?: Bound | number): Promise<number> {
    const started = Date.now();
    const limit =
      bound === undefined
        ? relativeBound(await nodeStartReference(), READY_MULTIPLE)
        : asBound(bound);
    while (Date.now() - started < limit.ms) {
      if (!this.running) {
        throw new Error(
          `dovewarden exited before it was ready:\n${this.output.slice(-20).join('\n')}`,
        );
      }
      try {
        const res = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`);
        if (res.status === 200) return Date.now() - started;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(
      `dovewarden not ready within ${limit.why}:\n${this.output.slice(-20).join('\n')}`,
    );
  }

  /**
   * SIGTERM, then the exit status; SIGKILL if it does not stop within the bound (by default 30
   * starts of the dovewarden command on this machine, a hang guard).
   */
  async stop(
    bound?: Bound | number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) {
      const limit =
        bound === undefined
          ? relativeBound(await nodeStartReference(), STOP_MULTIPLE)
          : asBound(bound);
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), limit.ms);
      const result = await this.#exit;
      clearTimeout(timer);
      return result;
    }
    return this.#exit;
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** kill -9 of its whole process group (started with `detached`), as a supervisor does. */
  killGroup(): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }

  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#exit;
  }
}

/** What dovewardenEnv needs of a Dovecot pair: A is the source, B the replica. */
export interface SourceAndReplica {
  a: { doveadmHttpUrl: string; doveadmPassword: string; dsyncDestination: string };
  b: { dsyncDestination: string };
}

/**
 * The settings every test's dovewarden process shares: the machine's Redis under the test's
 * own namespace and, given a pair, A's Doveadm API as the source, A's doveadm TCP listener for
 * the syncs (as README recommends: it keeps dsync's state after exit 2) and B as the dsync
 * destination. Tests add what they are about (ports, intervals) on top; a test of the HTTP-only
 * set-up drops DOVEWARDEN_DOVEADM_TCP_ADDR.
 */
export function dovewardenEnv(namespace: string, pair?: SourceAndReplica): Record<string, string> {
  return {
    DOVEWARDEN_REDIS_MODE: 'external',
    DOVEWARDEN_REDIS_ADDR: '127.0.0.1:6379',
    DOVEWARDEN_NAMESPACE: namespace,
    ...(pair === undefined
      ? {}
      : {
          DOVEWARDEN_DOVEADM_URL: pair.a.doveadmHttpUrl,
          DOVEWARDEN_DOVEADM_PASSWORD: pair.a.doveadmPassword,
          DOVEWARDEN_DOVEADM_TCP_ADDR: pair.a.dsyncDestination,
          DOVEWARDEN_DOVEADM_DEST: pair.b.dsyncDestination,
        }),
  };
}
