import { DoveadmError, type DoveadmErrorDetails } from './doveadm-error';

/**
 * Exit 65 from the `user` command while listing: "user listing failed". Seen on Dovecot 2.4.1
 * about once every five listings of 100,000 users, when the auth worker restarted in the middle
 * ("auth-worker: Aborted LIST request for *: Shutting down"). Unlike exit 65 from a sync it
 * heals on its own, hence temporary.
 */
export class UserListingFailedError extends DoveadmError {
  override readonly name = 'UserListingFailedError';
  readonly code = 'DOVEADM_USER_LISTING_FAILED';
  readonly kind = 'temporary';

  constructor(message: string, details: DoveadmErrorDetails = {}) {
    super(message, details);
  }
}
