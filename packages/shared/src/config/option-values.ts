import { parseDuration } from './duration';
import { type HostPort, type ListenAddress, parseHostPort, parseListenAddress } from './address';
import { ConfigError } from './config-error';
import {
  OPTION_SPECS,
  type OptionKind,
  type OptionName,
  type OptionSpec,
  optionLabel,
} from './options';
import { Secret } from './secret';

/**
 * The value parsers every section builder shares. Each takes only options whose spec has its
 * kind (OptionOfKind), so the table in options.ts and the code that reads a setting cannot
 * disagree about what the value is.
 */

/** Raw values as yargs hands them over (flag, then env, then default). */
export type RawOptions = Partial<Record<OptionName, unknown>>;

/** The options whose spec in OPTION_SPECS has the given kind. */
export type OptionOfKind<K extends OptionKind> = {
  [N in OptionName]: (typeof OPTION_SPECS)[N]['kind'] extends K ? N : never;
}[OptionName];

export function text(raw: RawOptions, option: OptionName): string | undefined {
  const value = raw[option];
  if (value === undefined || value === null) return undefined;
  // A flag given twice arrives as an array; the last one wins, as in most CLIs.
  const last: unknown = Array.isArray(value) ? value[value.length - 1] : value;
  if (typeof last === 'string') return last;
  if (typeof last === 'number' || typeof last === 'boolean') return String(last);
  throw new ConfigError(`invalid ${optionLabel(option)}: expected a single value`, option);
}

export function withDefault(raw: RawOptions, option: OptionName): string {
  const spec: OptionSpec = OPTION_SPECS[option];
  const value = text(raw, option) ?? spec.default;
  if (value === undefined) {
    throw new ConfigError(`missing ${optionLabel(option)}`, option);
  }
  return value;
}

export function invalid(option: OptionName, expected: string, got: string): ConfigError {
  return new ConfigError(
    `invalid ${optionLabel(option)}: expected ${expected}, got ${JSON.stringify(got)}`,
    option,
  );
}

export function oneOf<T extends string>(
  raw: RawOptions,
  option: OptionOfKind<'enum'>,
  allowed: readonly T[],
  aliases: Partial<Record<string, T>> = {},
): T {
  const given = withDefault(raw, option).trim().toLowerCase();
  const value = aliases[given] ?? given;
  const match = allowed.find((candidate) => candidate === value);
  if (match === undefined) throw invalid(option, `one of ${allowed.join(', ')}`, value);
  return match;
}

export function listen(raw: RawOptions, option: OptionOfKind<'listen'>): ListenAddress {
  const value = withDefault(raw, option);
  const parsed = parseListenAddress(value);
  if (!parsed) throw invalid(option, 'an address such as :8080 or 127.0.0.1:8080', value);
  return parsed;
}

export function duration(
  raw: RawOptions,
  option: OptionOfKind<'duration'>,
  allowZero: boolean,
): number {
  const value = withDefault(raw, option);
  const parsed = parseDuration(value);
  if (parsed === undefined || (!allowZero && parsed === 0)) {
    throw invalid(
      option,
      `a ${allowZero ? '' : 'non-zero '}duration such as 90s, 1h or 1h30m`,
      value,
    );
  }
  return parsed;
}

export function bool(raw: RawOptions, option: OptionOfKind<'bool'>): boolean {
  const value = withDefault(raw, option).trim().toLowerCase();
  // Also Go's strconv.ParseBool spellings (t, f), which the Go dovewarden took.
  if (['true', '1', 'yes', 'on', 't'].includes(value)) return true;
  if (['false', '0', 'no', 'off', 'f'].includes(value)) return false;
  throw invalid(option, 'true or false', value);
}

export function positiveInt(raw: RawOptions, option: OptionOfKind<'int'>, max: number): number {
  const value = withDefault(raw, option).trim();
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw invalid(option, `an integer from 1 to ${max}`, value);
  }
  return Number(value);
}

export function list(
  raw: RawOptions,
  option: OptionOfKind<'list'>,
  transform: (item: string) => string = (item) => item,
): string[] {
  return withDefault(raw, option)
    .split(',')
    .map((item) => transform(item.trim().replace(/\s+/g, ' ')))
    .filter((item) => item !== '');
}

export function optionalSecret(
  raw: RawOptions,
  option: OptionOfKind<'secret'>,
): Secret | undefined {
  const value = text(raw, option);
  return value === undefined || value === '' ? undefined : new Secret(value);
}

export function httpUrl(raw: RawOptions, option: OptionOfKind<'url'>): string {
  const value = withDefault(raw, option).trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(option, 'an http:// or https:// URL', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(option, 'an http:// or https:// URL', value);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      `invalid ${optionLabel(option)}: put the password in DOVEWARDEN_DOVEADM_PASSWORD, not in the URL`,
      option,
    );
  }
  return value.replace(/\/+$/, '');
}

/** A comma-separated host:port list; undefined when the option is unset or empty. */
export function hostPortList(
  raw: RawOptions,
  option: OptionOfKind<'host-list'>,
): HostPort[] | undefined {
  const nodes = new Map<string, HostPort>();
  for (const item of (text(raw, option) ?? '').split(',')) {
    if (item.trim() === '') continue;
    const node = parseHostPort(item);
    if (node === undefined) {
      throw invalid(option, 'host:port pairs, comma-separated, such as 10.0.0.1:6379', item.trim());
    }
    nodes.set(`${node.host}:${node.port}`, node);
  }
  return nodes.size === 0 ? undefined : [...nodes.values()];
}
