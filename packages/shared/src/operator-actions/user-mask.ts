/**
 * A user mask as `doveadm replicator` took them: `*` any run of characters, `?` exactly one,
 * everything else literal. A mask without either names one user exactly, and is looked up
 * directly instead of being matched against every known user.
 */
export class UserMask {
  /** The mask as given. */
  readonly text: string;
  /** Redis's SCAN MATCH pattern for it: its own glob characters `[`, `]`, `\` escaped. */
  readonly redisPattern: string;
  readonly #regex: RegExp;

  constructor(text: string) {
    this.text = text;
    let pattern = '';
    let regex = '';
    for (const char of text) {
      if (char === '*') {
        pattern += '*';
        regex += '.*';
      } else if (char === '?') {
        pattern += '?';
        regex += '.';
      } else {
        pattern += /[[\]\\]/.test(char) ? `\\${char}` : char;
        regex += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      }
    }
    this.redisPattern = pattern;
    // `s`: a username may hold any character but control characters; `u`: `?` is one code point.
    this.#regex = new RegExp(`^${regex}$`, 'su');
  }

  /** True when the mask has a wildcard, false when it names one user. */
  get isPattern(): boolean {
    return this.text.includes('*') || this.text.includes('?');
  }

  matches(user: string): boolean {
    return this.#regex.test(user);
  }
}
