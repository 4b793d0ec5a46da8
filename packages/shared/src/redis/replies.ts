/** The replies of a pipeline or transaction, in order; throws the first command's error. */
export function repliesOf(results: [Error | null, unknown][] | null): unknown[] {
  return (results ?? []).map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/** A sorted-set score as Redis answers it (a string, or null for no member) as a number. */
export function score(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
