// Demo traffic for docker compose --profile demo: every DEMO_INTERVAL_MS one user of
// DEMO_USERS logs in to Dovecot A over IMAP, appends a message, flags some, and now and then
// deletes and expunges old ones. Each of those commands makes A post an event to ingest, so the
// dashboard shows events, syncs and replication lag. Node's standard library only.
'use strict';

const net = require('node:net');
const fs = require('node:fs');

const host = process.env.IMAP_HOST || 'dovecot-a';
const port = Number(process.env.IMAP_PORT || '31143');
const intervalMs = Number(process.env.DEMO_INTERVAL_MS || '3000');
/** Keep mailboxes small: past this many messages, the oldest are deleted. */
const keepMessages = Number(process.env.DEMO_KEEP_MESSAGES || '20');
const users = (process.env.DEMO_USERS || '')
  .split(',')
  .filter(Boolean)
  .map((pair) => {
    const at = pair.indexOf(':');
    return { user: pair.slice(0, at), password: pair.slice(at + 1) };
  });
if (users.length === 0) {
  process.stderr.write('demo: DEMO_USERS is empty (user:password,...)\n');
  process.exit(1);
}

/** A minimal IMAP client: one command at a time, tagged replies, untagged lines collected. */
class Imap {
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.waiting = undefined;
    this.untagged = [];
    this.tag = 0;
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      this.buffer += chunk;
      let newline;
      while ((newline = this.buffer.indexOf('\r\n')) >= 0) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 2);
        this.onLine(line);
      }
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  onLine(line) {
    const waiting = this.waiting;
    if (waiting === undefined) return;
    if (waiting.tag === undefined) {
      // The greeting.
      this.waiting = undefined;
      waiting.resolve(line);
    } else if (line.startsWith(`${waiting.tag} `)) {
      this.waiting = undefined;
      const untagged = this.untagged;
      this.untagged = [];
      if (/^\S+ OK/.test(line)) waiting.resolve(untagged);
      else waiting.reject(new Error(`${waiting.command.split(' ')[0]}: ${line}`));
    } else {
      this.untagged.push(line);
    }
  }

  fail(error) {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) waiting.reject(error);
  }

  greeting() {
    return new Promise((resolve, reject) => {
      this.waiting = { tag: undefined, resolve, reject };
    });
  }

  /** Sends one command; a literal is sent as LITERAL+ ({n+}), so no continuation is awaited. */
  command(text, literal) {
    const tag = `d${++this.tag}`;
    return new Promise((resolve, reject) => {
      this.waiting = { tag, command: text, resolve, reject };
      if (literal === undefined) {
        this.socket.write(`${tag} ${text}\r\n`);
      } else {
        const bytes = Buffer.byteLength(literal);
        this.socket.write(`${tag} ${text} {${bytes}+}\r\n${literal}\r\n`);
      }
    });
  }
}

function quoted(value) {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

function connect() {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => resolve(socket));
    socket.setTimeout(15000, () => socket.destroy(new Error('IMAP timeout')));
    socket.once('error', reject);
  });
}

let round = 0;

async function oneRound() {
  round += 1;
  const { user, password } = users[round % users.length];
  const socket = await connect();
  const imap = new Imap(socket);
  try {
    await imap.greeting();
    await imap.command(`LOGIN ${quoted(user)} ${quoted(password)}`);
    const message = [
      `From: demo <demo@example.com>`,
      `To: ${user} <${user}@example.com>`,
      `Subject: dovewarden demo message ${round}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <demo-${Date.now()}-${round}@example.com>`,
      '',
      `Round ${round}: appended on A, replicated to B by dovewarden.`,
      '',
    ].join('\r\n');
    await imap.command('APPEND INBOX (\\Seen)', message);
    const selected = await imap.command('SELECT INBOX');
    const exists = selected
      .map((line) => /^\* (\d+) EXISTS/.exec(line))
      .filter(Boolean)
      .map((match) => Number(match[1]))
      .pop();
    const count = exists ?? 0;
    if (count > 0) {
      // Flag a random message: a STORE event, which ingest queues at normal priority.
      const seq = 1 + Math.floor(Math.random() * count);
      await imap.command(`STORE ${seq} +FLAGS (\\Flagged)`);
    }
    if (count > keepMessages) {
      await imap.command(`STORE 1:${count - keepMessages} +FLAGS (\\Deleted)`);
      await imap.command('EXPUNGE');
    }
    await imap.command('LOGOUT').catch(() => undefined);
    fs.writeFileSync('/tmp/demo-alive', `${new Date().toISOString()}\n`);
    process.stdout.write(`demo: round ${round} for ${user}: ${count} messages in INBOX\n`);
  } finally {
    socket.destroy();
  }
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    stopping = true;
  });
}

(async () => {
  while (!stopping) {
    try {
      await oneRound();
    } catch (error) {
      process.stderr.write(`demo: round ${round} failed: ${error.message}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
})();
