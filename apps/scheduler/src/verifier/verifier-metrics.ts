import type { Counter, Gauge, Registry } from 'prom-client';
import { MetricFactory } from '@dovewarden/shared';

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
    const metric = new MetricFactory(registry);
    this.users = metric.counter(
      'verify_users_total',
      'Users verified, by result: equal, differs (repair queued), repaired, unrepaired, replica-only-mail, skipped-busy, skipped-never-synced, unreachable, unknown-user, vanished, error',
      ['result'],
    );
    this.divergences = metric.counter(
      'replica_divergences_total',
      'Differences between B and A that the verifier found, by kind (folder-missing, message-extra, flags, uid-guid, …)',
      ['kind'],
    );
    this.usersDiffering = metric.gauge(
      'replica_users_differing',
      'Users the verifier knows to differ between B and A now (repair pending, unrepaired, or mail on B alone)',
      { collect: async (gauge) => gauge.set(await differingCount()) },
    );
    this.oldestVerificationAge = metric.gauge(
      'verify_oldest_verification_age_seconds',
      'Age of the oldest verification of a user: the start of the last finished walk (before the first one ends: of the first walk; 0 before any)',
      {
        collect: (gauge) => {
          const at = this.oldestVerifiedAt;
          gauge.set(at === undefined ? 0 : Math.max(0, (Date.now() - at) / 1000));
        },
      },
    );
    this.walkRemaining = metric.gauge(
      'verify_walk_users_remaining',
      'Users the running verification walk has yet to verify (0 when none runs)',
    );
    this.interval = metric.gauge(
      'verify_interval_seconds',
      'DOVEWARDEN_VERIFY_INTERVAL: a walk over every user is due this often',
    );
    this.interval.set(intervalMs / 1000);
  }
}
