/**
 * A mailbox tree as doveadm lists it: name to GUID; a rename moves the children too. Every
 * folder held mail once (UIDNEXT 2), except those named in `neverUsed`.
 */
export class FakeTree {
  constructor(
    readonly boxes: Map<string, string>,
    readonly neverUsed: ReadonlySet<string> = new Set(),
  ) {}

  mailboxStatus = (): Promise<
    { mailbox: string; guid: string; messages: string; uidnext: string }[]
  > =>
    Promise.resolve(
      [...this.boxes].map(([mailbox, guid]) => {
        const used = !this.neverUsed.has(mailbox);
        return { mailbox, guid, messages: used ? '1' : '0', uidnext: used ? '2' : '1' };
      }),
    );

  renames: [string, string][] = [];
  deletes: string[] = [];
  /** Subscribed names; a name may be subscribed without a folder. */
  subscriptions = new Set<string>();
  unsubscribes: string[] = [];

  mailboxList = (_user: string, options: { subscriptions?: boolean } = {}): Promise<string[]> =>
    Promise.resolve(
      options.subscriptions === true ? [...this.subscriptions] : [...this.boxes.keys()],
    );

  mailboxUnsubscribe = (_user: string, names: readonly string[]): Promise<void> => {
    for (const name of names) {
      this.unsubscribes.push(name);
      this.subscriptions.delete(name);
    }
    return Promise.resolve();
  };

  mailboxDelete = (_user: string, name: string): Promise<void> => {
    if (!this.boxes.has(name)) return Promise.reject(new Error(`no ${name}`));
    if ([...this.boxes.keys()].some((other) => other.startsWith(`${name}/`)))
      return Promise.reject(new Error(`${name} has children`));
    this.deletes.push(name);
    this.boxes.delete(name);
    return Promise.resolve();
  };

  mailboxRename = (_user: string, from: string, to: string): Promise<void> => {
    if (!this.boxes.has(from)) return Promise.reject(new Error(`no ${from}`));
    if (this.boxes.has(to)) return Promise.reject(new Error(`${to} exists`));
    this.renames.push([from, to]);
    for (const [name, guid] of [...this.boxes]) {
      if (name === from || name.startsWith(`${from}/`)) {
        this.boxes.delete(name);
        this.boxes.set(to + name.slice(from.length), guid);
      }
    }
    return Promise.resolve();
  };
}
