import type { Argv } from 'yargs';
import { ENV_PREFIX, OPTION_SPECS, type OptionName, type OptionSpec, envNameOf } from './options';

/**
 * Registers every setting on a yargs instance, reading DOVEWARDEN_* from the environment.
 * Help shows each option's env name, because operators mostly configure through env files.
 * Everything is a string here: buildConfig() validates, so that a bad value gets our one-line
 * error instead of yargs' silent NaN.
 */
export function withConfigOptions<T>(argv: Argv<T>): Argv<T> {
  let result = argv.env(ENV_PREFIX);
  for (const name of Object.keys(OPTION_SPECS) as OptionName[]) {
    const spec: OptionSpec = OPTION_SPECS[name];
    result = result.option(name, {
      type: 'string',
      describe: `${spec.describe}  [env ${envNameOf(name)}]`,
      ...(spec.default === undefined ? {} : { default: spec.default }),
      group: 'Settings (flag or env):',
    });
  }
  return result;
}
