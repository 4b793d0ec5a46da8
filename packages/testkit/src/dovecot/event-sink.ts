import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Bound, asBound, hangGuard } from '../timing/calibration';

/** One Dovecot event as the exporter POSTs it; only the fields tests look at are typed. */
export interface ExportedEvent {
  event: string;
  fields: Record<string, unknown>;
  [key: string]: unknown;
}

function isExportedEvent(value: unknown): value is ExportedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.event === 'string' && typeof v.fields === 'object' && v.fields !== null;
}

/**
 * A throwaway HTTP receiver for a Dovecot event exporter, for tests that need to see what
 * Dovecot itself posts. Answers 204 to every POST.
 */
export class EventSink {
  readonly events: ExportedEvent[] = [];
  /** Bodies that were not a Dovecot event, kept so that a test can show them. */
  readonly malformed: string[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(path = '/events'): Promise<EventSink> {
    let sink: EventSink | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          const parsed: unknown = JSON.parse(body);
          if (isExportedEvent(parsed)) sink?.events.push(parsed);
          else sink?.malformed.push(body);
        } catch {
          sink?.malformed.push(body);
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('event sink has no port');
    sink = new EventSink(server, `http://127.0.0.1:${address.port}${path}`);
    return sink;
  }

  /** Events arrive a few ms after the IMAP reply, so tests poll for them. */
  async waitFor(
    predicate: (e: ExportedEvent) => boolean,
    bound: Bound | number = hangGuard(100),
  ): Promise<ExportedEvent> {
    const limit = asBound(bound);
    const deadline = Date.now() + limit.ms;
    for (;;) {
      const found = this.events.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        const seen = this.events.map(
          (e) =>
            `${e.event} ${JSON.stringify({ cmd_name: e.fields.cmd_name, user: e.fields.user })}`,
        );
        throw new Error(
          `no matching event within ${limit.why}; seen: ${seen.join(', ') || 'none'}`,
        );
      }
      await sleep(10);
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
