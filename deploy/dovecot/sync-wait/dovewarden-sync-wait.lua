-- dovewarden sync-wait for Dovecot 2.4: a delivery (LMTP or LDA) answers only once its new
-- mail is on the replica, or once the timeout has passed: what Dovecot 2.3's replicator did
-- with replication_sync_timeout.
--
-- Printed by `dovewarden dovecot-config --sync-wait-lua`; `dovewarden dovecot-config` prints
-- the settings that load it (push_notification's Lua driver, in protocol lmtp and lda only).
-- Dovecot calls dovecot_lua_notify_end_txn after the delivery is committed and before LMTP
-- sends "250" (2.4.1: push-notification-plugin.c, lmtp-local.c), and request:submit() blocks
-- until ingest answers, so this process holds the delivery's answer while it waits.
--
-- lua_settings (all strings):
--   url         ingest's /sync-wait, with its Basic auth credentials in it
--   timeout_ms  how long one delivery may wait; ingest answers by then, and this script's
--               request gives up then at the latest (request_absolute_timeout)
--
-- One attempt, and a failure is only logged: the mail is on A whatever happens here, and
-- dovewarden's asynchronous events replicate it anyway. A delivery is never failed by this.

local url = nil
local timeout_ms = 0
local client = nil

-- JSON string escaping: user and folder names are UTF-8 and may hold quotes or backslashes.
local function json_string(value)
  local escaped = string.gsub(tostring(value), '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return string.format('\\u%04x', string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

function script_init(settings)
  url = settings.url
  timeout_ms = tonumber(settings.timeout_ms) or 0
  if url == nil or url == '' or timeout_ms <= 0 then
    dovecot.i_error('dovewarden sync-wait: lua_settings needs url and timeout_ms; not waiting')
    url = nil
    return 0
  end
  client = dovecot.http.client({
    request_absolute_timeout = tostring(timeout_ms) .. 'ms',
    request_max_attempts = '1',
    user_agent = 'dovecot-dovewarden-sync-wait',
  })
  return 0
end

function dovecot_lua_notify_begin_txn(user)
  -- dsync's own sessions (user.dsyncing) never wait on themselves; neither does anything but a
  -- delivery, since only MessageNew (an MTA delivery) below marks the transaction.
  return { user = user.username, session = user.session_id, dsyncing = user.dsyncing, messages = {} }
end

function dovecot_lua_notify_event_message_new(ctx, event)
  table.insert(ctx.messages, { mailbox = event.mailbox, uid = event.uid, uid_validity = event.uid_validity })
end

function dovecot_lua_notify_end_txn(ctx, success)
  if not success or client == nil or ctx.dsyncing or #ctx.messages == 0 then return end
  local last = ctx.messages[#ctx.messages]
  local body = '{"user":' .. json_string(ctx.user)
    .. ',"session":' .. json_string(ctx.session or '')
    .. ',"mailbox":' .. json_string(last.mailbox)
    .. ',"uid":' .. string.format('%d', last.uid)
    .. ',"uid_validity":' .. string.format('%d', last.uid_validity)
    .. ',"messages":' .. string.format('%d', #ctx.messages)
    .. ',"timeout_ms":' .. string.format('%d', timeout_ms) .. '}'
  local ok, result = pcall(function()
    local request = client:request({ url = url, method = 'POST' })
    request:add_header('Content-Type', 'application/json')
    request:set_payload(body)
    return request:submit()
  end)
  if not ok then
    dovecot.i_warning('dovewarden sync-wait: ' .. tostring(result) .. '; delivered without waiting for the replica')
    return
  end
  local status = result:status()
  if status ~= 200 then
    dovecot.i_warning(string.format('dovewarden sync-wait: %d %s; delivered without waiting for the replica (user %s)',
      status, tostring(result:reason()), ctx.user))
  end
end
