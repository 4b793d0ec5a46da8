// Go-style durations ("1h", "90s", "1h30m", "250ms", "1.5h", "300us"), because the original
// dovewarden was written in Go and its users already have these values in their environment
// files. The grammar is Go's time.ParseDuration: an optional sign, then one or more decimal
// numbers ("1", "1.5", ".5", "1.") each with a unit, or a bare "0". Days ("d") are our addition.
// A negative duration is refused: no setting has a use for one (the Go dovewarden ignored them).
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  // Go's two spellings of the micro sign: U+00B5 and U+03BC.
  '\u00b5s': 1e-3,
  '\u03bcs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// The longer units first, so that "ms" is not read as "m" followed by "s".
const PART = /(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h|d)/y;

/**
 * Parses a duration into exact (possibly fractional) milliseconds, or returns undefined when
 * the text is not one.
 */
export function parseDurationExact(text: string): number | undefined {
  let rest = text.trim();
  const sign = rest[0];
  const negative = sign === '-';
  if (sign === '-' || sign === '+') rest = rest.slice(1);
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const start = PART.lastIndex;
    const match = PART.exec(rest);
    if (!match || match.index !== start) return undefined;
    const [, whole = '', fraction = '', unit = ''] = match;
    // ".s" has no digits at all; Go refuses it too.
    if (whole === '' && fraction === '') return undefined;
    const perUnit = UNIT_MS[unit];
    if (perUnit === undefined) return undefined;
    total += Number(`${whole === '' ? '0' : whole}.${fraction === '' ? '0' : fraction}`) * perUnit;
  }
  if (!Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) return undefined;
  if (negative && total > 0) return undefined;
  return total;
}

/**
 * Parses a duration into whole milliseconds, or returns undefined when the text is not one.
 * A positive duration shorter than a millisecond ("300us") becomes 1 ms rather than 0, which
 * would mean "off" or be refused where Go took it as a (tiny) positive duration.
 */
export function parseDuration(text: string): number | undefined {
  const exact = parseDurationExact(text);
  if (exact === undefined) return undefined;
  return exact > 0 ? Math.max(1, Math.round(exact)) : 0;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}
