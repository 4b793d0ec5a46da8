import type { RedisClient } from '../redis/redis-connection';
import { SyncWaitLedger } from '../ingest/sync-wait-ledger';
import { OutageLedger } from '../outage/outage-ledger';
import { VerificationLedger } from '../verification/verification-ledger';
import { DestinationLedger } from './destination-ledger';
import { ReplicaServiceLedger } from './replica-service-ledger';
import { ReplicationStatus } from './replication-status';
import { StateKeys } from './state-keys';
import { SyncRequests } from './sync-requests';
import { SyncSessions } from './sync-sessions';

/**
 * Every concept of dovewarden's state in Redis, each with its one owner, on one connection and
 * one namespace (README, "Where the replication rules live"):
 * - `keys`: the key registry, every key and key list built once;
 * - `requests`: what a user's next sync must do, merged from every request;
 * - `sessions`: a user's sync from its claim (lease, requests) to its recorded outcome;
 * - `destinations`: a user's dsync state and marks at each destination;
 * - `status`: what operators and background passes read about users;
 * - `outage`: ingest's record of events that may have been lost;
 * - `replicaService`, `verification`, `syncWaits`: B's own changes, the verifier's walk, and
 *   how deliveries that waited for B were answered.
 * The scheduler's sweep keeps its own lock and cursor (apps/scheduler/src/sweep-state.ts).
 */
export class ReplicationState {
  readonly keys: StateKeys;
  readonly requests: SyncRequests;
  readonly sessions: SyncSessions;
  readonly destinations: DestinationLedger;
  readonly status: ReplicationStatus;
  readonly outage: OutageLedger;
  /** Users the replica served; `backup` leaves them alone until failback. */
  readonly replicaService: ReplicaServiceLedger;
  /** The background verifier's walk and the users it knows to differ. */
  readonly verification: VerificationLedger;
  /** How ingest answered deliveries that waited for the replica (POST /sync-wait). */
  readonly syncWaits: SyncWaitLedger;

  constructor(redis: RedisClient, namespace: string) {
    const keys = new StateKeys(namespace);
    this.keys = keys;
    this.requests = new SyncRequests(redis, keys);
    this.sessions = new SyncSessions(redis, keys, this.requests);
    this.destinations = new DestinationLedger(redis, keys);
    this.status = new ReplicationStatus(redis, keys);
    this.outage = new OutageLedger(redis, keys);
    this.replicaService = new ReplicaServiceLedger(redis, keys);
    this.verification = new VerificationLedger(redis, namespace);
    this.syncWaits = new SyncWaitLedger(redis, keys.syncWaitTally, (session, user) =>
      keys.deliveryWaits(session, user),
    );
  }
}
