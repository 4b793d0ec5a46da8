import { DoveadmError, type AnyDoveadmError } from './errors';

/** Narrows to the union of this package's errors, so `switch (error.code)` can be exhaustive. */
export function isDoveadmError(error: unknown): error is AnyDoveadmError {
  return error instanceof DoveadmError;
}
