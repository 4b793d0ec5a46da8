import { Counter, Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '@dovewarden/shared';

/** What the background verifier shows: results, divergences by kind, and how far behind it is. */
export class VerifierMetrics {
  readonly users: Counter<'result'>;
  readonly divergences: Counter<'kind'>;
  readonly usersDiffering: Gauge;
  readonly oldestVerificationAge: Gauge;
  readonly walkRemaining: Gauge;
  readonly interval: Gauge;
  /** Start of the oldest walk whose users all count as verified (ms), or undefined. */
  oldestVerifiedAt: number | undefined;

  constructor(registry: Registry, intervalMs: number, differingCount: () => Promise<number>) {
    this.users = new Counter({
      name: `${METRIC_PREFIX}verify_users_total`,
      help: 'Users verified, by result: equal, differs (repair queued), repaired, unrepaired, replica-only-mail, skipped-busy, skipped-never-synced, unreachable, unknown-user, vanished, error',
      labelNames: ['result'],
      registers: [registry],
    });
    this.divergences = new Counter({
      name: `${METRIC_PREFIX}replica_divergences_total`,
      help: 'Differences between B and A that the verifier found, by kind (folder-missing, message-extra, flags, uid-guid, …)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.usersDiffering = new Gauge({
      name: `${METRIC_PREFIX}replica_users_differing`,
      help: 'Users the verifier knows to differ between B and A now (repair pending, unrepaired, or mail on B alone)',
      registers: [registry],
      async collect() {
        this.set(await differingCount());
      },
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const metrics = this;
    this.oldestVerificationAge = new Gauge({
      name: `${METRIC_PREFIX}verify_oldest_verification_age_seconds`,
      help: 'Age of the oldest verification of a user: the start of the last finished walk (before the first one ends: of the first walk; 0 before any)',
      registers: [registry],
      collect() {
        const at = metrics.oldestVerifiedAt;
        this.set(at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000));
      },
    });
    this.walkRemaining = new Gauge({
      name: `${METRIC_PREFIX}verify_walk_users_remaining`,
      help: 'Users the running verification walk has yet to verify (0 when none runs)',
      registers: [registry],
    });
    this.interval = new Gauge({
      name: `${METRIC_PREFIX}verify_interval_seconds`,
      help: 'DOVEWARDEN_VERIFY_INTERVAL: a walk over every user is due this often',
      registers: [registry],
    });
    this.interval.set(intervalMs / 1000);
  }
}
