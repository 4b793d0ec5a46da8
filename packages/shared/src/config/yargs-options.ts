import type { Argv } from 'yargs';
import { printConfigWarning } from './go-compat';
import { ENV_PREFIX, OPTION_SPECS, type OptionName, type OptionSpec, envNameOf } from './options';

export interface EnvSettings {
  /** The settings the environment sets, as raw strings by option name. */
  readonly values: Partial<Record<OptionName, string>>;
  /** Environment variables ignored, or read the Go dovewarden's way, worth a word to the user. */
  readonly warnings: readonly string[];
}

const ENV_OPTIONS = new Map(
  (Object.keys(OPTION_SPECS) as OptionName[]).map((option) => [envNameOf(option), option]),
);

/**
 * The variables Kubernetes puts in every pod for each Service of the namespace (unless
 * enableServiceLinks is off): a Service named "dovewarden" (the Go chart's, with release
 * "dovewarden") or "dovewarden-metrics" gives DOVEWARDEN_SERVICE_HOST, DOVEWARDEN_PORT,
 * DOVEWARDEN_METRICS_PORT_9090_TCP_ADDR and the like.
 */
const SERVICE_LINK =
  /_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT|PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)$/;

/**
 * Reads the settings from DOVEWARDEN_* variables. Only the variables of settings are taken:
 * the Go dovewarden ignored any other, and some are set for it (its docker-compose file sets
 * DOVEWARDEN_DOVEADM_USER, Kubernetes adds Service links), so they are skipped rather than
 * refused as unknown arguments; those not from Kubernetes get a warning, as they may be typos.
 * LOG_FORMAT, which the Go dovewarden read without the prefix, stands in for an unset
 * DOVEWARDEN_LOG_FORMAT: json when it says json, text otherwise, as there.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv): EnvSettings {
  const values: Partial<Record<OptionName, string>> = {};
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.startsWith(`${ENV_PREFIX}_`)) continue;
    const option = ENV_OPTIONS.get(name);
    if (option !== undefined) {
      values[option] = value;
    } else if (name === `${ENV_PREFIX}_DOVEADM_USER`) {
      if (value !== 'doveadm') {
        warnings.push(
          `${name} is ignored: the Doveadm API user is always "doveadm" (doveadm_password), as in the Go dovewarden`,
        );
      }
    } else if (!SERVICE_LINK.test(name)) {
      warnings.push(`${name} is not a setting and is ignored (dovewarden --help lists them)`);
    }
  }
  const goLogFormat = env['LOG_FORMAT'];
  if (values['log-format'] === undefined && goLogFormat !== undefined && goLogFormat !== '') {
    values['log-format'] = goLogFormat.trim().toLowerCase() === 'json' ? 'json' : 'text';
    if (!['json', 'text'].includes(goLogFormat.trim().toLowerCase())) {
      warnings.push(
        `LOG_FORMAT is ${JSON.stringify(goLogFormat)}: read as text, as the Go dovewarden did (json or text; DOVEWARDEN_LOG_FORMAT is the setting)`,
      );
    }
  }
  return { values, warnings };
}

/**
 * Registers every setting on a yargs instance, reading DOVEWARDEN_* from the environment (a
 * flag wins over it). Help shows each option's env name, because operators mostly configure
 * through env files. Everything is a string here: buildConfig() validates, so that a bad value
 * gets our one-line error instead of yargs' silent NaN. Warnings about the environment go to
 * onWarning when a command runs (not for --help or --version).
 */
export function withConfigOptions<T>(
  argv: Argv<T>,
  env: NodeJS.ProcessEnv = process.env,
  onWarning: (message: string) => void = printConfigWarning,
): Argv<T> {
  const fromEnv = settingsFromEnv(env);
  // A config object sits between flags and defaults, where yargs' own .env() would: unlike
  // .env(), it holds only the settings, so no other variable becomes an unknown argument.
  let result = argv.config(fromEnv.values);
  for (const name of Object.keys(OPTION_SPECS) as OptionName[]) {
    const spec: OptionSpec = OPTION_SPECS[name];
    result = result.option(name, {
      type: 'string',
      describe: `${spec.describe}  [env ${envNameOf(name)}]`,
      ...(spec.default === undefined ? {} : { default: spec.default }),
      group: 'Settings (flag or env):',
    });
  }
  return result.middleware((args) => {
    if (args['help'] === true || args['version'] === true) return;
    for (const warning of fromEnv.warnings) onWarning(warning);
  });
}
