import { TemporaryFailureError, type DoveadmErrorKind } from './errors';
import { isDoveadmError } from './is-doveadm-error';

function plannedAction(error: unknown): string {
  if (!isDoveadmError(error)) return 'rethrow';
  const kind: DoveadmErrorKind = error.kind;
  switch (kind) {
    case 'changed-during-sync':
      return 'sync again, keeping the old state';
    case 'temporary':
      return 'back off';
    case 'unknown-user':
      return 'drop the user';
    case 'configuration':
      return 'alert';
    case 'client-bug':
    case 'permanent':
      return 'park the user';
    case 'aborted':
      return 'stop';
  }
}

describe('isDoveadmError', () => {
  it('lets a caller switch exhaustively on the kind', () => {
    expect(plannedAction(new TemporaryFailureError('exit 75', { exitCode: 75 }))).toBe('back off');
    expect(plannedAction(new Error('other'))).toBe('rethrow');
  });
});
