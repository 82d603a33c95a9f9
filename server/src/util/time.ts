/** Current instant as stored everywhere: ISO-8601 UTC with milliseconds and `Z`. */
export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * Parses a filter timestamp (RFC 3339 with `Z` or an offset, or a bare date meaning
 * midnight UTC) into the stored UTC form; undefined when it is not a valid time.
 */
export function toStoredInstant(value: string): string | undefined {
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Start of the current UTC day, week (Monday), month or year, in stored form. */
export function periodStart(period: 'today' | 'week' | 'month' | 'year', now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (period === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  if (period === 'month') d.setUTCDate(1);
  if (period === 'year') d.setUTCMonth(0, 1);
  return d.toISOString();
}
