/** Older than this, an event time is taken to be a wrong clock, not a real change. */
const MAX_AGE_MS = 24 * 3600 * 1000;
/** Dovecot and ingest clocks may differ a little. */
const MAX_FUTURE_MS = 60 * 1000;

/**
 * When the change happened, from the event's end_time (RFC 3339 text, or unix seconds with
 * time_format=unix), or the receive time when that is missing or absurd.
 */
export function changeTime(endTime: unknown, receivedAt: number): number {
  let parsed: number | undefined;
  if (typeof endTime === 'number' && Number.isFinite(endTime)) {
    parsed = endTime * 1000;
  } else if (typeof endTime === 'string' && endTime !== '') {
    parsed = /^\d+(\.\d+)?$/.test(endTime) ? Number(endTime) * 1000 : Date.parse(endTime);
  }
  if (parsed === undefined || !Number.isFinite(parsed)) return receivedAt;
  if (parsed > receivedAt + MAX_FUTURE_MS || parsed < receivedAt - MAX_AGE_MS) return receivedAt;
  return Math.round(parsed);
}
