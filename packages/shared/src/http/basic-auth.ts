import { createHash, timingSafeEqual } from 'node:crypto';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * A check of an Authorization header against one Basic auth user and password, for ingest and
 * the admin alike. Comparing fixed-size digests keeps it constant-time whatever the input length.
 */
export function basicAuthChecker(auth: {
  user: string;
  password: string;
}): (header: string | undefined) => boolean {
  const expected = digest(`${auth.user}:${auth.password}`);
  return (header) => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
    if (!match?.[1]) return false;
    return timingSafeEqual(digest(Buffer.from(match[1], 'base64').toString('utf8')), expected);
  };
}
