import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dovecot24Root, type DovecotVersion } from './availability';
import {
  LAYOUT,
  quote,
  renderConfig,
  renderUsers,
  type MailDriver,
  type ServerPorts,
  type TestUser,
} from './config';
import {
  DovecotContainer,
  type DovecotBackend,
  defaultDovecotBackend,
  dovecot24Image,
} from './dovecot-container';
import { DovecotError } from './dovecot-error';
import { findLogProblems, type LogCheckOptions } from './log-check';
import { freePorts, waitForPorts } from './ports';
import {
  OWNER_FILE,
  TEMP_PREFIX,
  isAlive,
  killOnExit,
  killSession,
  looksLikeDovecotMaster,
  readPidFile,
  sessionMembers,
  startWatchdog,
  sweepOrphans,
} from './processes';
import { runCommand, type CommandResult } from './run-command';
import { hangGuard } from '../timing/calibration';

export const DEFAULT_PASSWORD = 'secret';

export interface DovecotServerOptions {
  version: DovecotVersion;
  /** Short label, e.g. 'A' or 'B'; part of the folder and instance name. */
  name: string;
  /** Users of the passwd-file; a bare name gets the password `secret`. */
  users: ReadonlyArray<string | TestUser>;
  doveadmPassword: string;
  mailDriver?: MailDriver;
  /** Where this server's event exporter POSTs events; no exporter when absent. */
  eventsUrl?: string;
  /** Appended to the generated config; `{{dir}}` is replaced by the server's folder as Dovecot sees it. */
  extraConfig?: string;
  /** Files written into the server's folder before it starts (name → content), e.g. a Lua script. */
  extraFiles?: Readonly<Record<string, string>>;
  /** The 2.4 chroot; defaults to DOVEWARDEN_DOVECOT24_ROOT or the cache folder. */
  root?: string;
  /** Where 2.4 runs: the chroot or a container (defaultDovecotBackend() when absent). */
  backend?: DovecotBackend;
  startTimeoutMs?: number;
}

export interface DoveadmOptions {
  /** Fed to stdin, e.g. a message for `save`. */
  input?: string | Buffer;
  timeoutMs?: number;
}

const USER_NAME = /^[A-Za-z0-9_+=@-][A-Za-z0-9._+=@-]*$/;

function normaliseUsers(users: ReadonlyArray<string | TestUser>): TestUser[] {
  const list = users.map((u) =>
    typeof u === 'string' ? { name: u, password: DEFAULT_PASSWORD } : u,
  );
  for (const u of list) {
    // The name becomes a folder and a passwd-file field, the password a passwd-file field.
    if (!USER_NAME.test(u.name))
      throw new DovecotError(
        'INVALID_OPTIONS',
        `test user name not usable: ${JSON.stringify(u.name)}`,
      );
    if (/[:\n]/.test(u.password))
      throw new DovecotError(
        'INVALID_OPTIONS',
        `password of ${u.name} may not hold ':' or a newline`,
      );
  }
  return list;
}

/**
 * One Dovecot instance started from a generated config in its own temporary folder. For 2.4 the
 * folder lives inside the chroot, so every path has two spellings: `dovecotDir` as Dovecot sees
 * it, `hostDir` as this process sees it.
 */
export class DovecotServer {
  readonly imapPort: number;
  readonly lmtpPort: number;
  readonly doveadmTcpPort: number;
  readonly doveadmHttpPort: number;
  readonly doveadmHttpUrl: string;
  /** What A's `doveadm sync` is given as destination to reach this server. */
  readonly dsyncDestination: string;
  /** Host path of the log file. */
  readonly logPath: string;
  /** The config file as Dovecot (and doveadm) sees it. */
  readonly configPath: string;
  readonly users: readonly TestUser[];

  private masterPid: number | null = null;
  private stopping: Promise<void> | null = null;
  private finalLog: string | null = null;
  private forgetOnExit: () => void = () => undefined;
  private watchdogPid: number | null = null;
  private container: DovecotContainer | null = null;

  private constructor(
    /** 'chroot' also for 2.3, which runs from the machine's own packages. */
    readonly backend: DovecotBackend,
    readonly version: DovecotVersion,
    readonly name: string,
    readonly instanceName: string,
    /** The chroot for 2.4, '/' for 2.3. */
    readonly root: string,
    readonly hostDir: string,
    readonly dovecotDir: string,
    ports: ServerPorts,
    readonly doveadmPassword: string,
    readonly mailDriver: MailDriver,
    users: TestUser[],
  ) {
    this.imapPort = ports.imap;
    this.lmtpPort = ports.lmtp;
    this.doveadmTcpPort = ports.doveadmTcp;
    this.doveadmHttpPort = ports.doveadmHttp;
    this.doveadmHttpUrl = `http://127.0.0.1:${ports.doveadmHttp}`;
    this.dsyncDestination = `tcp:127.0.0.1:${ports.doveadmTcp}`;
    this.logPath = path.join(hostDir, LAYOUT.log);
    this.configPath = `${dovecotDir}/${LAYOUT.config}`;
    this.users = users;
  }

  /** Writes the config and passwd-file, starts Dovecot and waits until every port accepts connections. */
  static async start(options: DovecotServerOptions): Promise<DovecotServer> {
    const users = normaliseUsers(options.users);
    const backend =
      options.version === '2.4' ? (options.backend ?? defaultDovecotBackend()) : 'chroot';
    const chrooted = options.version === '2.4' && backend === 'chroot';
    // A container mounts the instance folder at its own path: no second spelling of paths.
    const root = chrooted ? (options.root ?? dovecot24Root()) : '/';
    const parent = chrooted ? path.join(root, 'tmp') : os.tmpdir();
    sweepOrphans(parent, (dir) => path.join(dir, LAYOUT.baseDir, 'master.pid'));

    const hostDir = fs.mkdtempSync(path.join(parent, `${TEMP_PREFIX}${options.name}-`));
    // Dovecot's unprivileged processes (and the mail user) must be able to walk into it.
    fs.chmodSync(hostDir, 0o755);
    const dovecotDir = chrooted ? `/${path.relative(root, hostDir)}` : hostDir;
    const [imap = 0, lmtp = 0, doveadmTcp = 0, doveadmHttp = 0] = await freePorts(4);
    const ports: ServerPorts = { imap, lmtp, doveadmTcp, doveadmHttp };
    const suffix = path.basename(hostDir).slice(TEMP_PREFIX.length);
    const server = new DovecotServer(
      backend,
      options.version,
      options.name,
      `dovewarden-${suffix}`,
      root,
      hostDir,
      dovecotDir,
      ports,
      options.doveadmPassword,
      options.mailDriver ?? 'sdbox',
      users,
    );
    try {
      server.writeFiles(options);
      // Hang guards here are in bare node process starts on this machine (hangGuard).
      await server.launch(options.startTimeoutMs ?? hangGuard(375).ms);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  private writeFiles(options: DovecotServerOptions): void {
    fs.writeFileSync(path.join(this.hostDir, OWNER_FILE), `${process.pid}\n`);
    for (const sub of [LAYOUT.baseDir, LAYOUT.stateDir, path.dirname(LAYOUT.log), LAYOUT.home]) {
      fs.mkdirSync(path.join(this.hostDir, sub), { recursive: true });
    }
    // Homes are created on first use by the mail user, so their parent must be its; a missing
    // home then also tells compareMailboxes that this user was never touched here.
    fs.chownSync(path.join(this.hostDir, LAYOUT.home), 5000, 5000);
    fs.writeFileSync(
      path.join(this.hostDir, LAYOUT.users),
      renderUsers(this.users, `${this.dovecotDir}/${LAYOUT.home}`),
    );
    const config = renderConfig({
      version: this.version,
      instanceName: this.instanceName,
      dir: this.dovecotDir,
      ports: {
        imap: this.imapPort,
        lmtp: this.lmtpPort,
        doveadmTcp: this.doveadmTcpPort,
        doveadmHttp: this.doveadmHttpPort,
      },
      doveadmPassword: this.doveadmPassword,
      mailDriver: this.mailDriver,
      ...(options.eventsUrl === undefined ? {} : { eventsUrl: options.eventsUrl }),
      ...(options.extraConfig === undefined
        ? {}
        : { extraConfig: options.extraConfig.replaceAll('{{dir}}', this.dovecotDir) }),
    });
    for (const [name, content] of Object.entries(options.extraFiles ?? {})) {
      if (name.includes('/') || name.startsWith('.'))
        throw new DovecotError('INVALID_OPTIONS', `extra file name not usable: ${name}`);
      fs.writeFileSync(path.join(this.hostDir, name), content, { mode: 0o644 });
    }
    fs.writeFileSync(path.join(this.hostDir, LAYOUT.config), config);
  }

  private get pidFile(): string {
    return path.join(this.hostDir, LAYOUT.baseDir, 'master.pid');
  }

  private async launch(timeoutMs: number): Promise<void> {
    this.forgetOnExit = killOnExit({ pid: () => this.pid, dir: this.hostDir });
    if (this.version === '2.4' && this.backend === 'container') {
      this.container = await DovecotContainer.start({
        image: dovecot24Image(),
        dir: this.hostDir,
        configPath: this.configPath,
        name: this.instanceName,
        timeoutMs,
      });
      this.masterPid = this.container.hostPid;
      await this.waitUntilListening(Date.now() + timeoutMs);
      return;
    }
    const [command, args] =
      this.version === '2.4'
        ? // A private mount namespace: the /proc mount dies with the instance, nothing to unmount.
          [
            'unshare',
            [
              '-m',
              '--propagation',
              'private',
              '--',
              'sh',
              '-c',
              'mount -t proc proc "$1/proc" && exec chroot "$1" /usr/sbin/dovecot -c "$2"',
              'sh',
              this.root,
              this.configPath,
            ],
          ]
        : ['/usr/sbin/dovecot', ['-c', this.configPath]];
    const started = await this.daemonize(command, args);
    if (started.exitCode !== 0) {
      throw this.startError(
        `dovecot exited with ${String(started.exitCode ?? started.signal)}: ${started.stderr.trim()}`,
      );
    }
    // The daemonizing parent has exited; the master writes its pid file right after.
    const deadline = Date.now() + timeoutMs;
    while (this.masterPid === null) {
      this.masterPid = readPidFile(this.pidFile);
      if (this.masterPid !== null) break;
      if (Date.now() > deadline) throw this.startError('no master.pid appeared');
      await sleep(10);
    }
    await this.waitUntilListening(deadline);
  }

  private async waitUntilListening(deadline: number): Promise<void> {
    const pid = this.masterPid;
    if (pid === null) throw this.startError('no master');
    // The master binds every listener before it forks, so these three say the fourth is ready too.
    // Not the doveadm TCP port: a probe there logs "client disconnected before handshake" as an Error.
    this.watchdogPid = startWatchdog(pid, this.hostDir);
    const ports = [this.imapPort, this.lmtpPort, this.doveadmHttpPort];
    const ready = await waitForPorts(ports, Math.max(deadline - Date.now(), 1000), () =>
      isAlive(pid),
    );
    if (!ready.ok)
      throw this.startError(`ports ${ready.pending.join(', ')} never accepted connections`);
  }

  /**
   * Runs Dovecot's self-daemonizing start. Its stderr goes to a file, not a pipe: the master keeps
   * fd 2 open for its whole life, so a pipe would never reach EOF and the start would never end.
   */
  private daemonize(
    command: string,
    args: string[],
  ): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; stderr: string }> {
    const errFile = path.join(this.hostDir, 'startup.err');
    const fd = fs.openSync(errFile, 'w');
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'ignore', fd] });
      fs.closeSync(fd);
      child.on('error', reject);
      child.on('exit', (exitCode, signal) => {
        resolve({ exitCode, signal, stderr: fs.readFileSync(errFile, 'utf8') });
      });
    });
  }

  private startError(what: string): DovecotError {
    const tail = this.readLog().trim().split('\n').slice(-5).join('\n');
    return new DovecotError(
      'DOVECOT_START_FAILED',
      `Dovecot ${this.version} ${this.name} failed to start: ${what}\n${tail}`,
    );
  }

  /** The container's id on the container backend while it runs, else null. */
  get containerId(): string | null {
    return this.container?.id ?? null;
  }

  /** The master's PID while it runs. */
  get pid(): number | null {
    return this.masterPid ?? readPidFile(this.pidFile);
  }

  get running(): boolean {
    const pid = this.pid;
    return this.stopping === null && pid !== null && isAlive(pid);
  }

  /** Every live process of this instance (master and children). */
  processes(): number[] {
    const pid = this.pid;
    return pid === null ? [] : sessionMembers(pid);
  }

  /** Stops the instance and removes its folder; safe to call again. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /**
   * Stops the instance as a crash or maintenance would, but keeps its folder, mail and ports,
   * so that resume() brings the same server back.
   */
  async halt(): Promise<void> {
    if (this.stopping !== null) throw new DovecotError('INVALID_OPTIONS', 'server is stopped');
    await this.killInstance();
    this.forgetOnExit();
    this.masterPid = null;
    this.watchdogPid = null;
    this.container = null;
    fs.rmSync(this.pidFile, { force: true });
  }

  /** Starts a halted instance again, on the same ports with the same mail. */
  async resume(timeoutMs = hangGuard(375).ms): Promise<void> {
    if (this.stopping !== null) throw new DovecotError('INVALID_OPTIONS', 'server is stopped');
    await this.launch(timeoutMs);
  }

  /**
   * Swaps doveadm_password in the config and reloads, as an admin editing the server would: the
   * Doveadm API and dsync logins then take only the new one.
   */
  async setDoveadmPassword(password: string): Promise<void> {
    const file = this.hostPath(this.configPath);
    const config = fs.readFileSync(file, 'utf8');
    const line = /^doveadm_password = .*$/m;
    if (!line.test(config)) throw new DovecotError('INVALID_OPTIONS', 'no doveadm_password line');
    fs.writeFileSync(file, config.replace(line, `doveadm_password = ${quote(password)}`));
    await this.doveadm(['reload']);
    // A reload restarts the services; the API answers again once its listener is back.
    const ready = await waitForPorts([this.doveadmHttpPort], hangGuard(125).ms, () => this.running);
    if (!ready.ok) throw new DovecotError('DOVECOT_START_FAILED', 'doveadm API gone after reload');
  }

  private async shutdown(): Promise<void> {
    try {
      await this.killInstance();
    } finally {
      this.finalLog = this.readLog();
      if (process.env.DOVEWARDEN_KEEP_DOVECOT_DIRS !== '1')
        fs.rmSync(this.hostDir, { recursive: true, force: true });
      this.forgetOnExit();
    }
  }

  private async killInstance(): Promise<void> {
    const pid = this.pid;
    if (this.watchdogPid !== null) {
      try {
        process.kill(this.watchdogPid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // A container goes when its master exits (auto-removal); remove() makes sure of it after.
    const container = this.container;
    try {
      await this.killMaster(pid);
    } finally {
      await container?.remove();
    }
  }

  private async killMaster(pid: number | null): Promise<void> {
    if (pid === null || !looksLikeDovecotMaster(pid)) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
    // The master stops its children, but children can linger (and hold ports) for a moment.
    const deadline = Date.now() + 3000;
    while (sessionMembers(pid).length > 0 && Date.now() < deadline) await sleep(20);
    killSession(pid, 'SIGKILL');
    const killDeadline = Date.now() + hangGuard(50).ms;
    while (sessionMembers(pid).length > 0) {
      if (Date.now() > killDeadline) {
        throw new DovecotError(
          'DOVECOT_STOP_FAILED',
          `Dovecot ${this.name} (pid ${pid}) survived SIGKILL`,
        );
      }
      await sleep(20);
    }
  }

  /** The whole log; after stop() the log as it was at the end. */
  readLog(): string {
    if (this.finalLog !== null) return this.finalLog;
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Error, Fatal and Panic lines of the log, without the noise every stop writes. */
  logProblems(options?: LogCheckOptions): string[] {
    return findLogProblems(this.readLog(), options);
  }

  passwordOf(user: string): string {
    return this.users.find((u) => u.name === user)?.password ?? DEFAULT_PASSWORD;
  }

  /** Maps a path as Dovecot sees it to the path this process can open. */
  hostPath(dovecotPath: string): string {
    return path.join(this.root, dovecotPath);
  }

  /** Whether anything ever created this user's home here; doveadm would create it when asked. */
  hasHome(user: string): boolean {
    return fs.existsSync(path.join(this.hostDir, LAYOUT.home, user));
  }

  /** Runs the doveadm CLI against this instance; never throws on a non-zero exit. */
  doveadmResult(args: readonly string[], options: DoveadmOptions = {}): Promise<CommandResult> {
    const run = {
      ...(options.input === undefined ? {} : { input: options.input }),
      timeoutMs: options.timeoutMs ?? hangGuard(750).ms,
    };
    if (this.container !== null)
      return this.container.doveadm(['-c', this.configPath, ...args], run);
    const [command, fullArgs] =
      this.version === '2.4'
        ? ['chroot', [this.root, 'doveadm', '-c', this.configPath, ...args]]
        : ['/usr/bin/doveadm', ['-c', this.configPath, ...args]];
    return runCommand(command, fullArgs, {
      ...(options.input === undefined ? {} : { input: options.input }),
      timeoutMs: options.timeoutMs ?? hangGuard(750).ms,
    });
  }

  /** Runs the doveadm CLI and returns its stdout; a non-zero exit throws DOVEADM_FAILED with the exit code. */
  async doveadm(args: readonly string[], options: DoveadmOptions = {}): Promise<string> {
    const result = await this.doveadmResult(args, options);
    if (result.exitCode !== 0) {
      throw new DovecotError(
        'DOVEADM_FAILED',
        `doveadm ${args.join(' ')} on ${this.name} exited ${String(result.exitCode ?? result.signal)}: ${result.stderr.trim()}`,
        { exitCode: result.exitCode },
      );
    }
    return result.stdout;
  }
}

/** A random doveadm password, so two test runs can never talk to each other's servers. */
export function randomPassword(): string {
  return randomBytes(12).toString('hex');
}
