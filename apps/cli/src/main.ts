#!/usr/bin/env node
import yargs, { type ArgumentsCamelCase } from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  ConfigError,
  type RawOptions,
  buildConfig,
  setConfig,
  withConfigOptions,
} from '@dovewarden/shared';
import { type RunnableRole, runApps } from './run-apps';
import { dovecotConfigText } from './dovecot-config-command';

/** One line, no stack, exit 1: what an operator reading a crash-looping pod's log needs. */
function die(message: string): never {
  process.stderr.write(`dovewarden: ${message}\n`);
  process.exit(1);
}

function run(role: RunnableRole) {
  return async (argv: ArgumentsCamelCase): Promise<void> => {
    let config;
    try {
      config = setConfig(buildConfig(argv as RawOptions, role));
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
  scheduler: 'Queue background syncs for users not replicated recently',
  admin: 'Serve Bull Board and the admin API',
};

async function main(): Promise<void> {
  let cli = withConfigOptions(yargs(hideBin(process.argv)))
    .scriptName('dovewarden')
    .usage(
      '$0 <command> [options]\n\nReplication controller for Dovecot 2.4: events in, doveadm sync out.',
    );
  for (const [role, describe] of Object.entries(APPS) as [RunnableRole, string][]) {
    cli = cli.command(role, describe, {}, run(role));
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
        }),
    (argv) => {
      try {
        const config = setConfig(buildConfig(argv as RawOptions, 'tool'));
        process.stdout.write(dovecotConfigText(config, String(argv['dovecot-version']), argv.url));
      } catch (error: unknown) {
        if (error instanceof ConfigError) die(error.message);
        throw error;
      }
    },
  );
  await cli
    .demandCommand(1, 'name a command: all, ingest, worker, scheduler, admin or dovecot-config')
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
