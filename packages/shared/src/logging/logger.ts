import winston from 'winston';
import type { LogFormat, LogLevel } from '../config/config';

export type Logger = winston.Logger;

// Keys whose values never reach a log line, whatever their depth in the metadata.
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|cookie/i;
const REDACTED = '[redacted]';

function redact(value: unknown, depth: number): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redact(inner, depth + 1);
  }
  return out;
}

const secretValues = new Set<string>();

/**
 * Registers a secret's literal value so it is masked even inside free text, e.g. an error
 * message from a library that echoed a URL with credentials in it.
 */
export function registerSecretValue(value: string): void {
  if (value.length >= 4) secretValues.add(value);
}

function maskSecretValues(text: string): string {
  let out = text;
  for (const secret of secretValues) out = out.split(secret).join(REDACTED);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEY.test(key)) {
      info[key] = REDACTED;
    } else if (key !== 'level' && key !== 'message') {
      info[key] = redact(info[key], 0);
    }
  }
  return info;
});

const maskFormat = winston.format((info) => {
  const symbols = Object.getOwnPropertySymbols(info);
  const message = symbols.find((symbol) => symbol.description === 'message');
  if (message !== undefined && secretValues.size > 0) {
    const record = info as unknown as Record<symbol, unknown>;
    const line = record[message];
    if (typeof line === 'string') record[message] = maskSecretValues(line);
  }
  return info;
});

/**
 * `time level message key=value …`, the Go dovewarden's default text format (slog's text
 * handler), for operators whose log pipeline reads that.
 */
const textLine = winston.format.printf((info) => {
  const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
  const pairs = Object.entries(rest).map(([key, value]) => {
    const text =
      value instanceof Error
        ? value.message
        : typeof value === 'string'
          ? value
          : JSON.stringify(value);
    return `${key}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`;
  });
  return [
    `time=${String(timestamp)}`,
    `level=${String(level).toUpperCase()}`,
    `msg=${JSON.stringify(String(message))}`,
    ...pairs,
  ].join(' ');
});

/**
 * One line per entry on stdout: JSON objects by default, or `key=value` text. Child loggers add
 * `context` (`logger.child({ context: 'worker' })`).
 */
export function createLogger(
  level: LogLevel,
  options: { silent?: boolean; format?: LogFormat } = {},
): Logger {
  return winston.createLogger({
    level,
    silent: options.silent ?? false,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.timestamp(),
      redactFormat(),
      options.format === 'text' ? textLine : winston.format.json(),
      maskFormat(),
    ),
    transports: [new winston.transports.Console()],
  });
}
