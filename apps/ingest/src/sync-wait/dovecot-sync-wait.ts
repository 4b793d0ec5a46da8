import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Where the printed config expects the Lua script unless told otherwise. */
export const DEFAULT_SYNC_WAIT_LUA_PATH = '/etc/dovecot/dovewarden-sync-wait.lua';

/** The Lua script Dovecot runs for every delivery (beside this module, in src and in dist). */
export function syncWaitLua(): string {
  return readFileSync(path.join(__dirname, 'dovewarden-sync-wait.lua'), 'utf8');
}

export interface SyncWaitConfigInput {
  /** ingest's POST /sync-wait as A's Dovecot reaches it, credentials included. */
  url: string;
  luaPath: string;
  timeoutMs: number;
}

/** A Dovecot setting value in double quotes. */
function quoted(value: string): string {
  return `"${value.replace(/(["\\])/g, '\\$1')}"`;
}

const DELIVERY_PLUGINS = `  mail_plugins {
    notify = yes
    push_notification = yes
    mail_lua = yes
    push_notification_lua = yes
  }`;

/**
 * The settings (Dovecot 2.4) that make every LMTP and LDA delivery wait for its mail to be on the
 * replica before it answers. The plugins are loaded for those two protocols only: never for
 * doveadm, whose dsync runs are the controller's own syncs, nor for IMAP.
 */
export function renderSyncWaitConfig(input: SyncWaitConfigInput): string {
  return `# dovewarden sync-wait: a delivery answers "250" once its new mail is on the replica, or after
# timeout_ms at most (DOVEWARDEN_SYNC_WAIT_TIMEOUT; Dovecot 2.3's replication_sync_timeout). The
# script runs after the mail is committed on A; whatever happens to it, the delivery succeeds.
# Put the script that "dovewarden dovecot-config --sync-wait-lua" prints at ${input.luaPath}.
# Each waiting delivery holds one lmtp process: size service lmtp { process_limit } for the
# deliveries that may wait at once (README, "Synchronous delivery replication").
protocol lmtp {
${DELIVERY_PLUGINS}
}
protocol lda {
${DELIVERY_PLUGINS}
}
push_notification dovewarden_sync_wait {
  driver = lua
  lua_file = ${input.luaPath}
  lua_settings {
    url = ${quoted(input.url)}
    timeout_ms = ${Math.round(input.timeoutMs)}
  }
}
`;
}
