import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './redis-connection';

/** `--- @include "name"`: the fragment `name.lua`, relative to the including file. */
const INCLUDE = /^--- @include "([^"]+)"\s*$/gm;

/** A script file's text with its fragments put in, each once, in order of first use. */
function withIncludes(file: string, seen: Set<string>): string {
  const text = readFileSync(file, 'utf8');
  return text.replace(INCLUDE, (_line, name: string) => {
    const fragment = path.resolve(path.dirname(file), `${name}.lua`);
    if (seen.has(fragment)) return `-- ${name}: included above`;
    seen.add(fragment);
    return withIncludes(fragment, seen);
  });
}

/** One call of a script: its keys and its arguments. */
export interface LuaCall {
  keys: readonly string[];
  args: readonly (string | number)[];
}

/**
 * A Lua script of ours, kept as a file the way BullMQ keeps its own: `<name>-<keys>.lua` beside
 * the module that owns it, the number before `.lua` its key count (none for a script whose key
 * count varies), a header that says its KEYS, ARGV and result, and shared fragments pulled in
 * with `--- @include "fragment"`. Loaded once, and always called by its SHA1 (EVALSHA), its text
 * sent only when Redis does not know it yet (after a restart or on a new cluster node). A hot
 * script sent whole on every call costs the controller the encoding and the write of its text,
 * and Redis the hashing of it: for the worker's per-sync scripts, about a tenth of its CPU.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly source: string,
    /** The key count every call must have; undefined when it varies with the call. */
    readonly numberOfKeys?: number,
    readonly name = 'inline script',
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** The script in `file` (absolute, or relative to `dir`), its fragments included. */
  static fromFile(dir: string, file: string): LuaScript {
    const full = path.resolve(dir, file);
    const count = /-(\d+)\.lua$/.exec(full)?.[1];
    return new LuaScript(
      withIncludes(full, new Set([full])),
      count === undefined ? undefined : Number(count),
      path.basename(full),
    );
  }

  async run(redis: RedisClient, call: LuaCall): Promise<unknown> {
    const argv = this.#argv(call);
    try {
      return await redis.evalsha(this.sha, call.keys.length, ...argv);
    } catch (error: unknown) {
      if (!isNoScript(error)) throw error;
      return await redis.eval(this.source, call.keys.length, ...argv);
    }
  }

  /**
   * Many calls in one round trip. Calls that met NOSCRIPT did not run: they are sent again,
   * in one more round trip, after Redis has been given the script. Rejects on a script's error.
   */
  async runMany(redis: RedisClient, calls: readonly LuaCall[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    const first = redis.pipeline();
    for (const call of calls) first.evalsha(this.sha, call.keys.length, ...this.#argv(call));
    const results = (await first.exec()) ?? [];
    const replies: unknown[] = [];
    const again: number[] = [];
    results.forEach(([error, reply], index) => {
      if (error && isNoScript(error)) again.push(index);
      else if (error) throw error;
      replies[index] = reply;
    });
    if (again.length > 0) {
      const second = redis.pipeline();
      for (const index of again) {
        const call = calls[index];
        second.eval(this.source, call.keys.length, ...this.#argv(call));
      }
      ((await second.exec()) ?? []).forEach(([error, reply], position) => {
        if (error) throw error;
        replies[again[position]] = reply;
      });
    }
    return replies;
  }

  #argv(call: LuaCall): string[] {
    if (this.numberOfKeys !== undefined && call.keys.length !== this.numberOfKeys) {
      throw new Error(
        `${this.name} takes ${this.numberOfKeys} keys, called with ${call.keys.length}`,
      );
    }
    return [...call.keys, ...call.args.map(String)];
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
