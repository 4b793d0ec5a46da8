/**
 * How usernames from events are normalised, like Dovecot's auth_username_format: one user must
 * get one job whichever event names them. Dovecot 2.3's mail_delivery_finished carries the raw
 * recipient (user1@example.com) while the same user's IMAP events say user1.
 */
export type UsernameStep =
  { kind: 'lowercase' } | { kind: 'localpart' } | { kind: 'domain'; domain: string };

export type UsernameFormat = readonly UsernameStep[];

/** Parses "asis", or steps joined by ",": lowercase, localpart, domain:example.com. */
export function parseUsernameFormat(text: string): UsernameFormat | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '' || trimmed === 'asis' || trimmed === 'as-is') return [];
  const steps: UsernameStep[] = [];
  for (const token of trimmed.split(',').map((part) => part.trim())) {
    if (token === 'lowercase') steps.push({ kind: 'lowercase' });
    else if (token === 'localpart') steps.push({ kind: 'localpart' });
    else if (/^domain:[a-z0-9.-]+$/.test(token))
      steps.push({ kind: 'domain', domain: token.slice('domain:'.length) });
    else return undefined;
  }
  return steps;
}

export function normaliseUsername(user: string, format: UsernameFormat): string {
  let out = user.trim();
  for (const step of format) {
    switch (step.kind) {
      case 'lowercase':
        out = out.toLowerCase();
        break;
      case 'localpart': {
        const at = out.lastIndexOf('@');
        if (at > 0) out = out.slice(0, at);
        break;
      }
      case 'domain':
        if (!out.includes('@')) out = `${out}@${step.domain}`;
        break;
    }
  }
  return out;
}
