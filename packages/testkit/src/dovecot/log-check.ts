/** Lines every clean stop or reload writes; they are not problems. */
export const KNOWN_LOG_NOISE: readonly RegExp[] = [/Killed with signal 15/, /SIGHUP received/];

export interface LogCheckOptions {
  /** Also report Warning lines (except the known noise). */
  includeWarnings?: boolean;
  /** More patterns a test expects and accepts. */
  allow?: readonly RegExp[];
}

/** The Error, Fatal and Panic lines of a Dovecot log (and Warnings, if asked), minus known noise. */
export function findLogProblems(log: string, options: LogCheckOptions = {}): string[] {
  const severities =
    options.includeWarnings === true ? /\b(Warning|Error|Fatal|Panic):/ : /\b(Error|Fatal|Panic):/;
  const allowed = [...KNOWN_LOG_NOISE, ...(options.allow ?? [])];
  return log
    .split('\n')
    .filter((line) => severities.test(line))
    .filter((line) => !allowed.some((re) => re.test(line)));
}
