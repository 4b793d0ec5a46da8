import { buildConfig } from './config';
import { ConfigError } from './config-error';
import { OPTION_SPECS, type OptionKind, type OptionName } from './options';
import type { RawOptions } from './option-values';

const ALL_OPTIONS = Object.keys(OPTION_SPECS) as OptionName[];

/** Reads buildConfig makes of the raw values, by option name. */
function readsOf(values: RawOptions): Set<string> {
  const reads = new Set<string>();
  const raw = new Proxy(values, {
    get(target, key, receiver) {
      if (typeof key === 'string') reads.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  buildConfig(raw, 'worker');
  return reads;
}

describe('OPTION_SPECS', () => {
  it('has every setting read by buildConfig, and buildConfig reads nothing else', () => {
    // Set so that the settings read only in some set-ups (Sentinel's master name and password,
    // the ingest user) are read too.
    const reads = readsOf({
      'redis-mode': 'external',
      'redis-sentinels': '10.0.0.1:26379',
      'ingest-password': 'ingest-pw',
      'doveadm-password': 'pw-123456',
    });
    expect(ALL_OPTIONS.filter((option) => !reads.has(option))).toEqual([]);
    expect([...reads].filter((key) => !(key in OPTION_SPECS))).toEqual([]);
  });

  // The kinds whose parser rejects any text that is not of that kind; 'text', 'list' and
  // 'secret' take free text (a section may still check it with its own rule).
  const CHECKED: readonly OptionKind[] = [
    'listen',
    'duration',
    'bool',
    'int',
    'enum',
    'url',
    'host-list',
  ];
  const checked = ALL_OPTIONS.filter((option) => CHECKED.includes(OPTION_SPECS[option].kind));

  it.each(checked)('rejects a bad value of --%s, as its kind says', (option) => {
    let thrown: unknown;
    try {
      buildConfig({ 'redis-mode': 'external', [option]: 'not valid!' }, 'all');
    } catch (error: unknown) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).option).toBe(option);
  });
});
