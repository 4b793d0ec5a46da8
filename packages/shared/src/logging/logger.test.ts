import { Writable } from 'node:stream';
import winston from 'winston';
import { createLogger, registerSecretValue } from './logger';

function capture(
  level: 'debug' | 'info' = 'info',
  format: 'json' | 'text' = 'json',
): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(level, { format });
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString('utf8').trim());
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe('logger', () => {
  it('writes JSON lines with a context from child loggers', () => {
    const { logger, lines } = capture();
    logger.child({ context: 'worker' }).info('synced', { user: 'user1' });
    const entry = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      message: 'synced',
      context: 'worker',
      user: 'user1',
    });
    expect(typeof entry['timestamp']).toBe('string');
  });

  it("writes the Go dovewarden's key=value text with LOG_FORMAT=text, secrets still hidden", () => {
    const { logger, lines } = capture('info', 'text');
    registerSecretValue('hunter3-secret');
    logger.child({ context: 'worker' }).warn('sync failed', {
      user: 'user1',
      error: 'auth hunter3-secret refused',
      password: 'p1',
      exitCode: 75,
    });
    expect(lines[0]).toMatch(
      /^time=\S+ level=WARN msg="sync failed" context=worker user=user1 error="auth \[redacted\] refused" password=\[redacted\] exitCode=75$/,
    );
  });

  it('never writes secrets, by key or by value', () => {
    const { logger, lines } = capture();
    registerSecretValue('hunter2-secret');
    logger.info('calling doveadm', {
      password: 'p1',
      headers: { Authorization: 'Basic abc' },
      nested: [{ apiKey: 'k1' }],
    });
    logger.warn('failed: http://doveadm:hunter2-secret@host/ refused');
    const output = lines.join('\n');
    expect(output).not.toContain('p1"');
    expect(output).not.toContain('Basic abc');
    expect(output).not.toContain('k1');
    expect(output).not.toContain('hunter2-secret');
    expect(output).toContain('[redacted]');
  });

  it('honours the level', () => {
    const { logger, lines } = capture('info');
    logger.debug('hidden');
    expect(lines).toHaveLength(0);
  });
});
