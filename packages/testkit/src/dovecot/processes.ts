import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Fields of `/proc/PID/stat` after the command; it may hold spaces and parentheses, hence lastIndexOf. */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * A zombie counts as dead: a daemonized master is reaped by whatever init the machine has, which
 * in a container may take a second or more, yet it holds no port and no file.
 */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== null && fields[0] !== 'Z';
}

/** The session id, or null for a gone or zombie process. */
function sessionOf(pid: number): number | null {
  const fields = statFields(pid);
  // After the command: state, ppid, pgrp, session.
  return fields === null || fields[0] === 'Z' ? null : Number(fields[3]);
}

export function commandLineOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * Every process of one Dovecot instance. The master daemonizes with setsid(), so its PID is the
 * session id of all its children, which tells our instance apart from any other Dovecot running.
 */
export function sessionMembers(masterPid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (sessionOf(pid) === masterPid) members.push(pid);
  }
  return members;
}

/** Synchronous on purpose: it also runs from a process 'exit' handler, where nothing async runs. */
export function killSession(masterPid: number, signal: NodeJS.Signals): void {
  for (const pid of sessionMembers(masterPid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone in the meantime.
    }
  }
}

export function readPidFile(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** Guards against PID reuse: only a process that looks like a Dovecot master may be killed. */
export function looksLikeDovecotMaster(pid: number): boolean {
  return /dovecot/.test(commandLineOf(pid)) && sessionOf(pid) === pid;
}

export const OWNER_FILE = 'owner.pid';
export const TEMP_PREFIX = 'dovewarden-test-';

/**
 * Removes instances left behind by a test process that died without running its exit handler
 * (SIGKILL, OOM). Each instance folder records its owner's PID; a dead owner means an orphan.
 */
export function sweepOrphans(
  parentDir: string,
  masterPidFile: (instanceDir: string) => string,
): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(parentDir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = path.join(parentDir, entry);
    const owner = readPidFile(path.join(dir, OWNER_FILE));
    if (owner === null || isAlive(owner)) continue;
    const master = readPidFile(masterPidFile(dir));
    if (master !== null && looksLikeDovecotMaster(master)) killSession(master, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface LiveInstance {
  pid: () => number | null;
  dir: string;
}

const live = new Set<LiveInstance>();
let hooked = false;

function killAllLive(): void {
  for (const entry of live) {
    const pid = entry.pid();
    if (pid !== null && looksLikeDovecotMaster(pid)) killSession(pid, 'SIGKILL');
    fs.rmSync(entry.dir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * Kills the instance when this process exits without calling stop(), in plain node scripts.
 * Under jest this never fires: test code sees a copy of `process` whose listeners the real
 * process never calls. The watchdog below is what protects jest runs.
 * Returns the function that forgets the instance after a clean stop.
 */
export function killOnExit(instance: LiveInstance): () => void {
  live.add(instance);
  if (!hooked) {
    hooked = true;
    process.on('exit', killAllLive);
  }
  return () => {
    live.delete(instance);
  };
}

/**
 * A detached shell that outlives us: once this process is gone (clean exit, a jest worker torn
 * down, SIGKILL), it kills the instance's session and removes its folder. stop() kills it first.
 * Returns its PID.
 */
export function startWatchdog(masterPid: number, dir: string): number | null {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; pkill -KILL -s "$2"; rm -rf "$3"';
  const child = spawn(
    'sh',
    ['-c', script, 'dovewarden-dovecot-watchdog', String(process.pid), String(masterPid), dir],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  child.on('error', () => undefined);
  child.unref();
  return child.pid ?? null;
}
