# dovewarden sync-wait: a delivery answers "250" once its new mail is on the replica, or after
# timeout_ms at most (DOVEWARDEN_SYNC_WAIT_TIMEOUT; Dovecot 2.3's replication_sync_timeout). The
# script runs after the mail is committed on A; whatever happens to it, the delivery succeeds.
# Put the script that "dovewarden dovecot-config --sync-wait-lua" prints at /etc/dovecot/dovewarden-sync-wait.lua.
# Each waiting delivery holds one lmtp process: size service lmtp { process_limit } for the
# deliveries that may wait at once (README, "Synchronous delivery replication").
protocol lmtp {
  mail_plugins {
    notify = yes
    push_notification = yes
    mail_lua = yes
    push_notification_lua = yes
  }
}
protocol lda {
  mail_plugins {
    notify = yes
    push_notification = yes
    mail_lua = yes
    push_notification_lua = yes
  }
}
push_notification dovewarden_sync_wait {
  driver = lua
  lua_file = /etc/dovecot/dovewarden-sync-wait.lua
  lua_settings {
    url = "http://DOVEWARDEN-SYNC-WAIT-URL/sync-wait"
    timeout_ms = DOVEWARDEN-SYNC-WAIT-TIMEOUT-MS
  }
}
