import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** Names a block holds; a sweep reads about a thousand at a time. */
const BLOCK = 8192;
/** Fast over small: a million names compress in a fraction of a second. */
const DEFLATE = { level: 1 };

/** One block: the JSON string tokens of up to BLOCK names, comma-separated, deflated. */
interface Block {
  readonly deflated: Buffer;
  readonly count: number;
}

/**
 * User names kept compressed, in blocks of the answer's own JSON tokens: a million names
 * (about 25 MB of text, some 130 MB as an array of JS strings) hold a few MB here, for as long
 * as a paced sweep needs them. A block is inflated and parsed when a name in it is read; the
 * last one read stays decoded, since a sweep reads the list in order.
 */
export class UserList {
  #decodedIndex = -1;
  #decoded: string[] = [];

  private constructor(
    private readonly blocks: readonly Block[],
    readonly length: number,
  ) {}

  /** Wraps names already decoded (an answer of another shape, tests). */
  static of(names: readonly string[]): UserList {
    const blocks: Block[] = [];
    for (let start = 0; start < names.length; start += BLOCK) {
      const part = names.slice(start, start + BLOCK);
      blocks.push({
        deflated: deflateRawSync(
          Buffer.from(part.map((name) => JSON.stringify(name)).join(',')),
          DEFLATE,
        ),
        count: part.length,
      });
    }
    return new UserList(blocks, names.length);
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
    const blocks: Block[] = [];
    let length = 0;
    let blockStart = -1;
    let blockEnd = -1;
    let inBlock = 0;
    const flush = (): void => {
      if (inBlock === 0) return;
      blocks.push({
        deflated: deflateRawSync(body.subarray(blockStart, blockEnd), DEFLATE),
        count: inBlock,
      });
      length += inBlock;
      inBlock = 0;
    };
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
        if (inBlock === 0) blockStart = start;
        blockEnd = position;
        inBlock += 1;
        if (inBlock === BLOCK) flush();
        skipSpace();
        if (body[position] === COMMA) {
          position += 1;
          continue;
        }
        if (body[position] === CLOSE_BRACKET) break;
        return undefined;
      }
    }
    flush();
    position += 1;
    const tail = body.toString('utf8', position);
    const end = new RegExp(
      `^\\s*\\}\\s*,\\s*${escapeRegExp(JSON.stringify(tag))}\\s*\\]\\s*\\]\\s*$`,
    );
    return end.test(tail) ? new UserList(blocks, length) : undefined;
  }

  /** The name at `index`; throws outside the list. */
  at(index: number): string {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`no user at index ${index} of ${this.length}`);
    }
    const block = Math.floor(index / BLOCK);
    const name = this.#block(block)[index - block * BLOCK];
    if (name === undefined) throw new RangeError(`no user at index ${index} of ${this.length}`);
    return name;
  }

  /** Names from `start` up to (not including) `end`, as Array.prototype.slice. */
  slice(start = 0, end = this.length): string[] {
    const from = Math.max(0, Math.min(this.length, start));
    const to = Math.max(from, Math.min(this.length, end));
    const names: string[] = [];
    for (let index = from; index < to;) {
      const block = Math.floor(index / BLOCK);
      const offset = index - block * BLOCK;
      const take = Math.min(to - index, BLOCK - offset);
      names.push(...this.#block(block).slice(offset, offset + take));
      index += take;
    }
    return names;
  }

  /** The first index of `name`, or -1: a scan, for the rare lookup (a sweep that resumes). */
  indexOf(name: string): number {
    for (let block = 0; block < this.blocks.length; block += 1) {
      const found = this.#block(block).indexOf(name);
      if (found >= 0) return block * BLOCK + found;
    }
    return -1;
  }

  toArray(): string[] {
    return this.slice();
  }

  /** Bytes the list holds (its compressed blocks). */
  get byteSize(): number {
    return this.blocks.reduce((sum, block) => sum + block.deflated.length, 0);
  }

  #block(index: number): string[] {
    if (index === this.#decodedIndex) return this.#decoded;
    const block = this.blocks[index];
    if (block === undefined) throw new RangeError(`no block ${index}`);
    const parsed: unknown = JSON.parse(`[${inflateRawSync(block.deflated).toString('utf8')}]`);
    if (!Array.isArray(parsed) || parsed.length !== block.count) {
      throw new TypeError(`user list block ${index} is damaged`);
    }
    this.#decoded = parsed.map((name) => {
      if (typeof name !== 'string')
        throw new TypeError(`user list block ${index} holds a non-string`);
      return name;
    });
    this.#decodedIndex = index;
    return this.#decoded;
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
