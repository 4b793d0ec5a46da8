#!/usr/bin/env -S node --max-semi-space-size=8
import yargs, { type ArgumentsCamelCase } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError, type RawOptions, buildConfig, withConfigOptions } from '@dovewarden/shared';
import { type RunnableRole, runApps } from './run-apps';
import { DEFAULT_SYNC_WAIT_LUA_PATH, syncWaitLua } from '@dovewarden/ingest';
import { dovecotConfigText } from './dovecot-config-command';
import { failbackCommand, pauseCommand, resumeCommand } from './failback-command';
import { OUTPUT_FORMATS, type Output, type OutputFormat } from './doveadm-printer';
import {
  OperatorError,
  type StatusOptions,
  masksFrom,
  removeCommand,
  replicateCommand,
  statusCommand,
  dsyncStatusCommand,
  verifyCommand,
} from './operator-commands';

/** Runs an operator command: its output on stdout, or one line on stderr and exit 1. */
function operator(produce: (argv: ArgumentsCamelCase) => Promise<string>) {
  return streamingOperator(async (argv, out) => out(await produce(argv)));
}

/** Writes to stdout, resolving once it may write more: long listings stream with backpressure. */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

/** An operator command that writes as it goes; its failure is one line on stderr and exit 1. */
function streamingOperator(run: (argv: ArgumentsCamelCase, out: Output) => Promise<void>) {
  return async (argv: ArgumentsCamelCase): Promise<void> => {
    try {
      await run(argv, writeStdout);
    } catch (error: unknown) {
      if (error instanceof ConfigError || error instanceof OperatorError) die(error.message);
      die(error instanceof Error ? error.message : String(error));
    }
  };
}

const formatOption = {
  alias: 'f',
  choices: OUTPUT_FORMATS,
  describe: "doveadm's output formats (doveadm -f): table, tab, flow, json, pager",
} as const;

function statusOptions(argv: ArgumentsCamelCase): StatusOptions {
  return {
    json: argv['json'] === true,
    format: argv['format'] as OutputFormat | undefined,
  };
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => (text += chunk));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

/**
 * yargs drops a bare `-` from positionals, so it is renamed before parsing to a token no
 * username can be (usernames hold no control characters).
 */
const STDIN_ARGUMENT = '\u0000-';

function markStdinArgument(arg: string): string {
  return arg === '-' ? STDIN_ARGUMENT : arg;
}

function commandMasks(argv: ArgumentsCamelCase): Promise<string[]> {
  const args = ((argv['masks'] as string[] | undefined) ?? []).map((arg) =>
    arg === STDIN_ARGUMENT ? '-' : arg,
  );
  return masksFrom(args, {
    isTTY: process.stdin.isTTY,
    read: readStdin,
  });
}

function toolConfig(argv: ArgumentsCamelCase) {
  return buildConfig(argv as RawOptions, 'tool');
}

/** One line, no stack, exit 1: what an operator reading a crash-looping pod's log needs. */
function die(message: string): never {
  process.stderr.write(`dovewarden: ${message}\n`);
  process.exit(1);
}

function run(role: RunnableRole) {
  return async (argv: ArgumentsCamelCase): Promise<void> => {
    let config;
    try {
      config = buildConfig(argv as RawOptions, role);
    } catch (error: unknown) {
      if (error instanceof ConfigError) die(error.message);
      throw error;
    }
    try {
      await runApps(config);
    } catch (error: unknown) {
      die(error instanceof Error ? error.message : String(error));
    }
  };
}

const APPS: Record<RunnableRole, string> = {
  all: 'Run every app in one process (embedded Redis unless REDIS_MODE=external)',
  ingest: 'Take Dovecot events on POST /events and queue syncs',
  worker: 'Run doveadm sync for queued users',
  scheduler:
    'Queue background syncs for users not replicated recently, and verify B (DOVEWARDEN_VERIFY_ENABLED)',
  verifier: 'Only the background verifier: compare B with A user by user and repair what differs',
  admin: 'Serve Bull Board and the admin API',
};

async function main(): Promise<void> {
  let cli = withConfigOptions(yargs(hideBin(process.argv).map(markStdinArgument)))
    .scriptName('dovewarden')
    .usage(
      '$0 <command> [options]\n\nReplication controller for Dovecot 2.4: events in, doveadm sync out.',
    );
  const EXAMPLES: Record<RunnableRole, [string, string]> = {
    all: [
      'DOVEWARDEN_DOVEADM_URL=http://mail-a:8080 DOVEWARDEN_DOVEADM_PASSWORD=... DOVEWARDEN_DOVEADM_DEST=tcp:mail-b:12345 $0 all',
      'everything in one process, embedded Redis',
    ],
    ingest: [
      'DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_REDIS_ADDR=redis:6379 $0 ingest',
      'one ingest replica',
    ],
    worker: [
      'DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_DOVEADM_PASSWORD=... DOVEWARDEN_NUM_WORKERS=8 $0 worker',
      'one worker process, 8 syncs at once',
    ],
    scheduler: [
      'DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_DOVEADM_PASSWORD=... $0 scheduler',
      'background sweeps',
    ],
    verifier: [
      'DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_DOVEADM_PASSWORD=... $0 verifier',
      'the verifier apart (then DOVEWARDEN_VERIFY_ENABLED=false on the schedulers)',
    ],
    admin: [
      'DOVEWARDEN_REDIS_MODE=external DOVEWARDEN_ADMIN_PASSWORD=... $0 admin',
      'Bull Board and the API on :3000',
    ],
  };
  for (const [role, describe] of Object.entries(APPS) as [RunnableRole, string][]) {
    const [example, meaning] = EXAMPLES[role];
    cli = cli.command(role, describe, (command) => command.example(example, meaning), run(role));
  }
  cli = cli.command(
    'dovecot-config',
    'Print the Dovecot config that sends events to this ingest',
    (command) =>
      command
        .option('dovecot-version', {
          type: 'string',
          default: '2.4',
          describe: 'Config syntax: 2.4 or 2.3',
        })
        .option('url', {
          type: 'string',
          describe: "ingest's /events URL as Dovecot reaches it (default: from --http-addr)",
        })
        .option('server', {
          type: 'string',
          default: 'source',
          describe:
            'Which server the config is for: source (A), or replica (B: its own changes, which the backup sync mode must know of, go to /events?server=replica)',
        })
        .option('sync-wait-lua-path', {
          type: 'string',
          default: DEFAULT_SYNC_WAIT_LUA_PATH,
          describe:
            'Where the config expects the sync-wait Lua script on A (printed only with DOVEWARDEN_SYNC_WAIT_TIMEOUT set)',
        })
        .option('sync-wait-lua', {
          type: 'boolean',
          default: false,
          describe: 'Print the sync-wait Lua script instead, to put at --sync-wait-lua-path',
        }),
    (argv) => {
      try {
        if (argv['sync-wait-lua']) {
          process.stdout.write(syncWaitLua());
          return;
        }
        const config = buildConfig(argv as RawOptions, 'tool');
        process.stdout.write(
          dovecotConfigText(
            config,
            String(argv['dovecot-version']),
            argv.url,
            String(argv.server),
            {
              luaPath: String(argv['sync-wait-lua-path']),
            },
          ),
        );
      } catch (error: unknown) {
        if (error instanceof ConfigError) die(error.message);
        throw error;
      }
    },
  );
  cli = cli
    .command(
      'status [masks..]',
      'Replication status: overall, or a table of the users the masks match',
      (command) =>
        command
          .positional('masks', {
            type: 'string',
            array: true,
            describe: "Usernames or masks: '*' any characters, '?' one",
          })
          .option('json', {
            type: 'boolean',
            default: false,
            describe: "Print dovewarden's JSON instead of a table",
          })
          .option('format', formatOption)
          .example('$0 status', 'queued, running, retrying and failed syncs; stale users')
          .example("$0 status '*@example.com'", 'the user table of doveadm replicator status')
          .example("$0 -f tab status 'user?'", 'the same, tab-separated')
          .example('$0 status user1@example.com --json', 'one user, as JSON'),
      streamingOperator((argv, out) =>
        statusCommand(
          toolConfig(argv),
          (argv['masks'] as string[] | undefined) ?? [],
          statusOptions(argv),
          out,
        ),
      ),
    )
    .command(
      'dsync-status',
      'The syncs running now: user, type, destination, since (doveadm replicator dsync-status)',
      (command) =>
        command
          .option('json', {
            type: 'boolean',
            default: false,
            describe: 'Print JSON instead of a table',
          })
          .option('format', formatOption),
      operator((argv) => dsyncStatusCommand(toolConfig(argv), statusOptions(argv))),
    )
    .command(
      'replicate [masks..]',
      "Queue a sync now for users, masks ('-' or a pipe: a list on standard input), or --all",
      (command) =>
        command
          .positional('masks', {
            type: 'string',
            array: true,
            describe: "Usernames, or masks of known users: '*' any characters, '?' one",
          })
          .option('full', {
            alias: 'f',
            type: 'boolean',
            default: false,
            describe: 'A full sync rather than an incremental one',
          })
          .option('priority', {
            alias: 'p',
            type: 'string',
            default: 'high',
            describe: 'high, normal or low',
          })
          .option('all', { type: 'boolean', default: false, describe: 'Every user doveadm lists' })
          .example('$0 replicate user1@example.com', 'sync one user now')
          .example("$0 replicate -f -p low '*@example.com'", 'full sync of every known user there')
          .example("doveadm user '*' | $0 replicate -", 'every user of a list')
          .example(
            '$0 replicate --all --full --priority low',
            'full sync of everyone, behind other work',
          ),
      operator(async (argv) =>
        replicateCommand(
          toolConfig(argv),
          // --all lists users itself: standard input is not read then.
          argv['all'] === true
            ? ((argv['masks'] as string[] | undefined) ?? [])
            : await commandMasks(argv),
          {
            all: argv['all'] === true,
            full: argv['full'] === true,
            priority: String(argv['priority']),
          },
        ),
      ),
    )
    .command(
      'remove [masks..]',
      "Drop users' pending syncs, dsync states and marks",
      (command) =>
        command
          .positional('masks', {
            type: 'string',
            array: true,
            describe: "Usernames, or masks of known users ('-': a list on standard input)",
          })
          .example('$0 remove olduser@example.com', 'forget a deleted account')
          .example("$0 remove '*@old-domain.example'", 'forget every known user of a domain'),
      streamingOperator(async (argv, out) =>
        removeCommand(toolConfig(argv), await commandMasks(argv), out),
      ),
    );
  cli = cli.command(
    'verify [masks..]',
    'Compare the replica with the source: folders, every message by UID with its flags, subscriptions; exit 2 when they differ',
    (command) =>
      command
        .positional('masks', {
          type: 'string',
          array: true,
          describe: 'Usernames or masks (* and ?)',
        })
        .option('all', {
          type: 'boolean',
          default: false,
          describe: 'Every user dovewarden has synced',
        })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'Print JSON, one line per user',
        })
        .option('format', formatOption)
        .example('$0 verify user1', 'is user1 the same on both?')
        .example(
          "$0 -f tab verify '*@example.com'",
          'every difference of those users, tab-separated',
        )
        .example('$0 verify --all', 'every synced user'),
    async (argv) => {
      try {
        const result = await verifyCommand(
          toolConfig(argv),
          argv['masks'] ?? [],
          {
            all: argv['all'] === true,
            json: argv['json'] === true,
            format: argv['format'],
          },
          writeStdout,
        );
        // 2, not 1: a script can tell "they differ" from "could not check".
        if (result.differs) process.exitCode = 2;
      } catch (error: unknown) {
        if (error instanceof ConfigError || error instanceof OperatorError) die(error.message);
        die(error instanceof Error ? error.message : String(error));
      }
    },
  );
  cli = cli
    .command(
      'failback [users..]',
      "Merge the replica's changes into the source after a failover (two-way sync), or --all",
      (command) =>
        command
          .positional('users', { type: 'string', array: true, describe: 'Usernames' })
          .option('all', { type: 'boolean', default: false, describe: 'Every user doveadm lists' })
          .option('yes', {
            type: 'boolean',
            default: false,
            describe: 'Do not ask before failing back --all',
          })
          .example(
            '$0 failback --all --yes',
            'after users were served by the replica: bring its changes back to the source',
          )
          .example('$0 failback user1@example.com', 'one user'),
      async (argv) => {
        // Ctrl-C or SIGTERM stops after the running sync is aborted, and says what is left.
        const interrupt = new AbortController();
        const stop = (): void => interrupt.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const result = await failbackCommand(
            toolConfig(argv),
            argv.users ?? [],
            { all: argv['all'] === true, yes: argv['yes'] === true },
            (line) => process.stdout.write(`${line}\n`),
            interrupt.signal,
          );
          if (result.failed > 0) process.exitCode = 1;
        } catch (error: unknown) {
          if (error instanceof ConfigError || error instanceof OperatorError) die(error.message);
          die(error instanceof Error ? error.message : String(error));
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      },
    )
    .command(
      'pause',
      'Pause replication: running syncs finish, no new one starts (events are still queued)',
      (command) => command.example('$0 pause', 'at failover, before the source comes back'),
      operator((argv) => pauseCommand(toolConfig(argv))),
    )
    .command(
      'resume',
      'Resume replication after pause (or a failback that left it paused)',
      (command) => command.example('$0 resume', 'once users are back on the source'),
      operator((argv) => resumeCommand(toolConfig(argv))),
    );
  await cli
    .demandCommand(
      1,
      'name a command: all, ingest, worker, scheduler, verifier, admin, status, replicate, remove, verify, failback, pause, resume or dovecot-config',
    )
    .strictCommands()
    .strictOptions()
    .fail((message: string | undefined, error: Error | undefined) => {
      if (error instanceof ConfigError) die(error.message);
      die(message ?? error?.message ?? 'invalid command line (see --help)');
    })
    .help()
    .alias('help', 'h')
    .wrap(Math.min(120, process.stdout.columns || 120))
    .parseAsync();
}

void main();
