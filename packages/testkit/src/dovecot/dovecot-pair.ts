import type { DovecotVersion } from './availability';
import type { MailDriver, TestUser } from './config';
import type { DovecotBackend } from './dovecot-container';
import { DovecotServer, randomPassword } from './dovecot-server';

export interface DovecotPairOptions {
  version: DovecotVersion;
  /** passwd-file users on both servers; a bare name gets the password `secret`. */
  users: ReadonlyArray<string | TestUser>;
  /** Where A exports its events. */
  eventsUrl?: string;
  /** Where B exports its own events (a change made on B), e.g. ingest's /events?server=replica; none by default. */
  replicaEventsUrl?: string;
  /** sdbox by default: with maildir, an INBOX created on B before the first sync never converges. */
  mailDriver?: MailDriver;
  /** The same on both, since A's sync logs in to B with it; random when absent. */
  doveadmPassword?: string;
  extraConfigA?: string;
  extraConfigB?: string;
  extraFilesA?: Readonly<Record<string, string>>;
  /** Where 2.4 runs (chroot or container); the default backend when absent. */
  backend?: DovecotBackend;
}

export interface DovecotPair {
  a: DovecotServer;
  b: DovecotServer;
  /** Stops both and removes their folders; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts A (the source, exporting events) and B (the replica) side by side. */
export async function startDovecotPair(options: DovecotPairOptions): Promise<DovecotPair> {
  const doveadmPassword = options.doveadmPassword ?? randomPassword();
  const common = {
    version: options.version,
    users: options.users,
    doveadmPassword,
    ...(options.mailDriver === undefined ? {} : { mailDriver: options.mailDriver }),
    ...(options.backend === undefined ? {} : { backend: options.backend }),
  };
  const [a, b] = await Promise.allSettled([
    DovecotServer.start({
      ...common,
      name: 'A',
      ...(options.eventsUrl === undefined ? {} : { eventsUrl: options.eventsUrl }),
      ...(options.extraConfigA === undefined ? {} : { extraConfig: options.extraConfigA }),
      ...(options.extraFilesA === undefined ? {} : { extraFiles: options.extraFilesA }),
    }),
    DovecotServer.start({
      ...common,
      name: 'B',
      ...(options.replicaEventsUrl === undefined ? {} : { eventsUrl: options.replicaEventsUrl }),
      ...(options.extraConfigB === undefined ? {} : { extraConfig: options.extraConfigB }),
    }),
  ]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    await Promise.all(
      [a, b].map((r) => (r.status === 'fulfilled' ? r.value.stop() : Promise.resolve())),
    );
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  const pair: DovecotPair = {
    a: a.value,
    b: b.value,
    stop: async () => {
      await Promise.all([pair.a.stop(), pair.b.stop()]);
    },
  };
  return pair;
}
