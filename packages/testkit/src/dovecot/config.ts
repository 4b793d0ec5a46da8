import type { DovecotVersion } from './availability';

export type MailDriver = 'sdbox' | 'maildir';

export interface ServerPorts {
  imap: number;
  lmtp: number;
  doveadmTcp: number;
  doveadmHttp: number;
}

/** Everything a generated config depends on; every path is as Dovecot sees it (inside the chroot). */
export interface ConfigInput {
  version: DovecotVersion;
  instanceName: string;
  dir: string;
  ports: ServerPorts;
  doveadmPassword: string;
  mailDriver: MailDriver;
  eventsUrl?: string;
  extraConfig?: string;
}

/** The fixed layout inside an instance folder, shared by the config and the harness. */
export const LAYOUT = {
  config: 'dovecot.conf',
  users: 'users',
  baseDir: 'run',
  stateDir: 'state',
  log: 'log/dovecot.log',
  home: 'home',
} as const;

/** Quotes a value so that spaces, `#` or quotes in it cannot change the meaning of the config. */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderConfig(input: ConfigInput): string {
  return input.version === '2.4' ? renderConfig24(input) : renderConfig23(input);
}

// The metric filters keep only mailbox-changing IMAP commands and deliveries: storage-level
// events would also fire for changes dsync applies, and make A and B ping-pong.
const FILTER_24 =
  'event=imap_command_finished AND tagged_reply_state=OK AND (cmd_name=APPEND OR cmd_name=*STORE OR cmd_name=*EXPUNGE OR cmd_name=*COPY OR cmd_name=*MOVE OR cmd_name=CREATE OR cmd_name=DELETE OR cmd_name=RENAME OR cmd_name=SUBSCRIBE OR cmd_name=UNSUBSCRIBE OR cmd_name=CLOSE)';
const FILTER_23 =
  'event=imap_command_finished AND tagged_reply_state=OK AND (cmd_name=APPEND OR cmd_name=STORE OR cmd_name="UID STORE" OR cmd_name=EXPUNGE OR cmd_name="UID EXPUNGE" OR cmd_name=COPY OR cmd_name="UID COPY" OR cmd_name=MOVE OR cmd_name="UID MOVE" OR cmd_name=CREATE OR cmd_name=DELETE OR cmd_name=RENAME OR cmd_name=SUBSCRIBE OR cmd_name=UNSUBSCRIBE OR cmd_name=CLOSE)';

function renderConfig24(input: ConfigInput): string {
  const { dir, ports } = input;
  const mailPath = input.mailDriver === 'sdbox' ? '~/sdbox' : '~/Maildir';
  const exporter =
    input.eventsUrl === undefined
      ? ''
      : `
event_exporter dovewarden {
  driver = http-post
  http_post_url = ${input.eventsUrl}
  format = json
  time_format = rfc3339
  # The defaults (1 attempt, 250 ms in all) drop an event at the first hiccup; with these a
  # 503 + Retry-After from ingest is retried.
  http_client_request_max_attempts = 8
  http_client_request_absolute_timeout = 15s
}
metric dovewarden_imap {
  exporter = dovewarden
  filter = ${FILTER_24}
}
metric dovewarden_delivery {
  exporter = dovewarden
  filter = event=mail_delivery_finished
}
`;
  // dovecot_config_version must be the very first setting of the main file.
  return `dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
instance_name = ${input.instanceName}
base_dir = ${dir}/${LAYOUT.baseDir}
state_dir = ${dir}/${LAYOUT.stateDir}
log_path = ${dir}/${LAYOUT.log}
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
auth_allow_cleartext = yes
auth_mechanisms = plain login
doveadm_password = ${quote(input.doveadmPassword)}
mail_driver = ${input.mailDriver}
mail_path = ${mailPath}
first_valid_uid = 1000
namespace inbox {
  inbox = yes
  separator = /
}
passdb passwd-file {
  passwd_file_path = ${dir}/${LAYOUT.users}
}
userdb passwd-file {
  passwd_file_path = ${dir}/${LAYOUT.users}
}
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    port = ${ports.lmtp}
  }
}
protocol lmtp {
  # RCPT TO:<user1@example.com> is user1 in the passwd-file.
  auth_username_format = %{user | username}
}
service doveadm {
  inet_listener tcp {
    port = ${ports.doveadmTcp}
  }
  inet_listener http {
    port = ${ports.doveadmHttp}
  }
}
${exporter}${input.extraConfig ?? ''}
`;
}

function renderConfig23(input: ConfigInput): string {
  const { dir, ports } = input;
  const location = input.mailDriver === 'sdbox' ? 'sdbox:~/sdbox' : 'maildir:~/Maildir';
  const exporter =
    input.eventsUrl === undefined
      ? ''
      : `
event_exporter dovewarden {
  format = json
  format_args = time-rfc3339
  transport = http-post
  transport_args = ${input.eventsUrl}
  transport_timeout = 5sec
}
metric dovewarden_imap {
  exporter = dovewarden
  filter = ${FILTER_23}
}
metric dovewarden_delivery {
  exporter = dovewarden
  filter = event=mail_delivery_finished
}
`;
  return `instance_name = ${input.instanceName}
base_dir = ${dir}/${LAYOUT.baseDir}
state_dir = ${dir}/${LAYOUT.stateDir}
log_path = ${dir}/${LAYOUT.log}
listen = 127.0.0.1
protocols = imap lmtp
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
doveadm_password = ${quote(input.doveadmPassword)}
mail_location = ${location}
first_valid_uid = 1000
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/${LAYOUT.users}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/${LAYOUT.users}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
protocol lmtp {
  # RCPT TO:<user1@example.com> is user1 in the passwd-file.
  auth_username_format = %n
}
service doveadm {
  inet_listener {
    address = 127.0.0.1
    port = ${ports.doveadmTcp}
  }
  inet_listener http {
    address = 127.0.0.1
    port = ${ports.doveadmHttp}
    ssl = no
  }
}
${exporter}${input.extraConfig ?? ''}
`;
}

export interface TestUser {
  name: string;
  password: string;
}

/** passwd-file lines; uid/gid 5000 own the mail, and home is per instance. */
export function renderUsers(users: readonly TestUser[], homeDir: string): string {
  return users
    .map((u) => `${u.name}:{PLAIN}${u.password}:5000:5000::${homeDir}/${u.name}::\n`)
    .join('');
}
