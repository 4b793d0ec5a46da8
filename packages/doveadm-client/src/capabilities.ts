/** One entry of `GET /doveadm/v1`. */
export interface DoveadmCommandInfo {
  command: string;
  parameters: DoveadmParameterInfo[];
}

export interface DoveadmParameterInfo {
  name: string;
  /** doveadm's type name: `string`, `boolean`, `integer`, `array`, ... */
  type: string;
}

/** Command name to the camelCase parameter names we intend to send. */
export type CommandRequirements = Readonly<Record<string, readonly string[]>>;

export interface MissingCapability {
  command: string;
  /** True when the server lacks the command altogether. */
  commandMissing: boolean;
  /** The parameters the server does not list for the command (all of them if it is missing). */
  missingParameters: readonly string[];
}

/** What `sync()` sends. Checked at start-up so a mismatch shows once, not per user. */
export const SYNC_REQUIREMENTS: CommandRequirements = {
  sync: [
    'user',
    'destination',
    'state',
    'fullSync',
    'lockTimeout',
    'onewaySync',
    'allNamespaces',
    'timeout',
    'excludeMailbox',
  ],
};

/** Everything this client sends, for tools that use more than `sync()`. */
export const CLIENT_REQUIREMENTS: CommandRequirements = {
  ...SYNC_REQUIREMENTS,
  user: ['userMask'],
  mailboxStatus: ['user', 'field', 'mailboxMask'],
  fetch: ['user', 'field', 'query'],
  mailboxList: ['user', 'subscriptions', 'mailboxMask'],
};

export function findMissingCapabilities(
  commands: readonly DoveadmCommandInfo[],
  requirements: CommandRequirements,
): MissingCapability[] {
  const known = new Map(commands.map((info) => [info.command, info]));
  const missing: MissingCapability[] = [];
  for (const [command, parameters] of Object.entries(requirements)) {
    const info = known.get(command);
    if (info === undefined) {
      missing.push({ command, commandMissing: true, missingParameters: [...parameters] });
      continue;
    }
    const offered = new Set(info.parameters.map((parameter) => parameter.name));
    const absent = parameters.filter((parameter) => !offered.has(parameter));
    if (absent.length > 0) {
      missing.push({ command, commandMissing: false, missingParameters: absent });
    }
  }
  return missing;
}

export function describeMissingCapabilities(missing: readonly MissingCapability[]): string {
  return missing
    .map((entry) =>
      entry.commandMissing
        ? `command ${entry.command} is missing`
        : `${entry.command} lacks ${entry.missingParameters.join(', ')}`,
    )
    .join('; ');
}
