/** What a request is about, so that every error message names the command and the user. */
export interface RequestContext {
  command: string;
  user?: string;
  /** The doveadm API URL, free of credentials (they are refused in the URL). */
  endpoint: string;
}

export function describeRequest(context: RequestContext): string {
  const subject = context.user === undefined ? '' : ` for user ${JSON.stringify(context.user)}`;
  return `doveadm ${context.command}${subject}`;
}
