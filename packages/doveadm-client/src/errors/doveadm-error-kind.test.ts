import { ChangedDuringSyncError } from './changed-during-sync-error';
import { DOVEADM_ERROR_KINDS, isRetryableKind, type DoveadmErrorKind } from './doveadm-error-kind';
import { UnknownUserError } from './unknown-user-error';

describe('DoveadmErrorKind', () => {
  it('retries only what may succeed on its own', () => {
    const retryable = DOVEADM_ERROR_KINDS.filter(isRetryableKind);

    expect(retryable).toEqual<DoveadmErrorKind[]>(['changed-during-sync', 'temporary']);
  });

  it('gives every error a name, a stable code and a kind', () => {
    const error = new UnknownUserError('doveadm sync for user "x": unknown', { exitCode: 67 });

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('UnknownUserError');
    expect(error.code).toBe('DOVEADM_UNKNOWN_USER');
    expect(error.kind).toBe('unknown-user');
    expect(error.exitCode).toBe(67);
    expect(String(error.stack)).toMatch(/^UnknownUserError: /);
    expect(new ChangedDuringSyncError('changed').retryable).toBe(true);
  });
});
