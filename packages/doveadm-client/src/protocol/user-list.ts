/**
 * User names kept the way doveadm sent them: one UTF-8 buffer and the offsets of each JSON
 * string in it. A million names cost about 25 MB of text and 8 MB of offsets here, against
 * some 130 MB as JS strings in an array (and the parse of the whole answer on top). Names are
 * decoded when read, a batch at a time.
 */
export class UserList {
  private constructor(
    private readonly text: Buffer,
    /** [start, end) of each name's JSON string token, quotes included, two entries a name. */
    private readonly bounds: Uint32Array,
    readonly length: number,
  ) {}

  /** Wraps names already decoded (an answer of another shape, tests). */
  static of(names: readonly string[]): UserList {
    const tokens = names.map((name) => JSON.stringify(name));
    const text = Buffer.from(tokens.join(''), 'utf8');
    const bounds = new Uint32Array(names.length * 2);
    let offset = 0;
    tokens.forEach((token, index) => {
      bounds[index * 2] = offset;
      offset += Buffer.byteLength(token, 'utf8');
      bounds[index * 2 + 1] = offset;
    });
    return new UserList(text, bounds, names.length);
  }

  /**
   * Reads the `userList` array of a doveadm `user` answer, `[["doveadmResponse",{"userList":
   * [...]},"TAG"]]`, straight from its bytes; undefined when the answer has another shape (the
   * caller then parses it the ordinary way, which explains errors).
   */
  static scan(body: Buffer, tag: string): UserList | undefined {
    const head = /^\s*\[\s*\[\s*"doveadmResponse"\s*,\s*\{\s*"userList"\s*:\s*\[/.exec(
      body.toString('latin1', 0, Math.min(body.length, 128)),
    );
    if (head === null) return undefined;
    let position = head[0].length;
    // Offsets go straight into a typed array that grows by doubling: a million names must not
    // pass through two million-entry JS arrays on the way.
    let bounds = new Uint32Array(1 << 16);
    let count = 0;
    const skipSpace = (): void => {
      while (position < body.length && isSpace(body[position] ?? 0)) position += 1;
    };
    skipSpace();
    if (body[position] !== CLOSE_BRACKET) {
      for (;;) {
        skipSpace();
        if (body[position] !== QUOTE) return undefined;
        const start = position;
        position += 1;
        while (position < body.length && body[position] !== QUOTE) {
          // A backslash escapes the next byte (\" among them); multi-byte UTF-8 never holds
          // a quote or a backslash byte, so bytes can be scanned as they are.
          position += body[position] === BACKSLASH ? 2 : 1;
        }
        if (position >= body.length) return undefined;
        position += 1;
        if ((count + 1) * 2 > bounds.length) {
          const grown = new Uint32Array(bounds.length * 2);
          grown.set(bounds);
          bounds = grown;
        }
        bounds[count * 2] = start;
        bounds[count * 2 + 1] = position;
        count += 1;
        skipSpace();
        if (body[position] === COMMA) {
          position += 1;
          continue;
        }
        if (body[position] === CLOSE_BRACKET) break;
        return undefined;
      }
    }
    position += 1;
    const tail = body.toString('utf8', position);
    if (
      !new RegExp(`^\\s*\\}\\s*,\\s*${escapeRegExp(JSON.stringify(tag))}\\s*\\]\\s*\\]\\s*$`).test(
        tail,
      )
    ) {
      return undefined;
    }
    return new UserList(body, bounds.slice(0, count * 2), count);
  }

  /** The name at `index`; throws outside the list. */
  at(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`no user at index ${index} of ${this.length}`);
    }
    const start = this.bounds[index * 2] ?? 0;
    const end = this.bounds[index * 2 + 1] ?? 0;
    // Most names hold no escape: the bytes between the quotes are the name.
    if (!this.text.subarray(start, end).includes(BACKSLASH))
      return this.text.toString('utf8', start + 1, end - 1);
    const decoded: unknown = JSON.parse(this.text.toString('utf8', start, end));
    if (typeof decoded !== 'string') throw new TypeError(`user ${index} is not a string`);
    return decoded;
  }

  /** Names from `start` up to (not including) `end`, as Array.prototype.slice. */
  slice(start = 0, end = this.length): string[] {
    const from = Math.max(0, Math.min(this.length, start));
    const to = Math.max(from, Math.min(this.length, end));
    const names: string[] = [];
    for (let index = from; index < to; index += 1) names.push(this.at(index));
    return names;
  }

  /** The first index of `name`, or -1: a scan, for the rare lookup (a sweep that resumes). */
  indexOf(name: string): number {
    for (let index = 0; index < this.length; index += 1) if (this.at(index) === name) return index;
    return -1;
  }

  toArray(): string[] {
    return this.slice();
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
