import type { Secret } from './secret';
import { type RawOptions, bool, optionalSecret, withDefault } from './option-values';

/** The admin UI and API; its listen address is Config.adminAddr, next to the other addresses. */
export interface AdminSettings {
  readonly user: string;
  readonly password: Secret | undefined;
  readonly readOnly: boolean;
}

export function adminSettings(raw: RawOptions): AdminSettings {
  return {
    user: withDefault(raw, 'admin-user'),
    password: optionalSecret(raw, 'admin-password'),
    readOnly: bool(raw, 'admin-read-only'),
  };
}
