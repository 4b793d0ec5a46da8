import { InvalidArgumentError } from '../errors/invalid-argument-error';
import { MAILBOX_STATUS_FIELDS, type MailboxStatusField } from '../types';

/**
 * doveadm dies without an answer on a status field it does not know (`mailbox` included),
 * which would look like a network failure: both transports refuse those before sending.
 */
export function requireStatusFields(fields: readonly MailboxStatusField[]): void {
  const unknown = fields.filter((field) => !MAILBOX_STATUS_FIELDS.includes(field));
  if (fields.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `doveadm mailboxStatus: fields must be a non-empty subset of ${MAILBOX_STATUS_FIELDS.join(', ')}`,
    );
  }
}
