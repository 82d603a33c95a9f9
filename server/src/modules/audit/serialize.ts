/** Limits of what an audit row's detail may hold: deep or huge request bodies are cut, never refused. */
export interface DetailLimits {
  maxDepth: number;
  maxKeys: number;
  maxString: number;
  /** Length of the serialized detail, in UTF-16 code units. */
  maxChars: number;
}

export const DETAIL_LIMITS: DetailLimits = { maxDepth: 6, maxKeys: 50, maxString: 512, maxChars: 8192 };

const TRUNCATED = '…';

/** A JSON-safe copy of `value` within the limits; cycles, functions, BigInts and throwing getters become markers. */
function bounded(value: unknown, depth: number, limits: DetailLimits, seen: Set<object>, cut: { any: boolean }): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') {
    if (value.length <= limits.maxString) return value;
    cut.any = true;
    return value.slice(0, limits.maxString) + TRUNCATED;
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return `[${typeof value}]`;
  if (seen.has(value)) {
    cut.any = true;
    return '[cycle]';
  }
  if (depth >= limits.maxDepth) {
    cut.any = true;
    return Array.isArray(value) ? `[array(${value.length})]` : '[object]';
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.slice(0, limits.maxKeys).map((item) => bounded(item, depth + 1, limits, seen, cut));
      if (value.length > limits.maxKeys) {
        cut.any = true;
        items.push(`[+${value.length - limits.maxKeys} more]`);
      }
      return items;
    }
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (const key of keys.slice(0, limits.maxKeys)) {
      out[key.slice(0, limits.maxString)] = bounded((value as Record<string, unknown>)[key], depth + 1, limits, seen, cut);
    }
    if (keys.length > limits.maxKeys) {
      cut.any = true;
      out[TRUNCATED] = `${keys.length - limits.maxKeys} more keys`;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * Serializes an audit detail within `limits`: depth, keys, string length and total size are
 * bounded, and a cut detail says so (`"truncated": true`). Never throws (a 5,000-deep request
 * body once overflowed JSON.stringify and lost its audit row).
 */
export function boundedDetail(value: Record<string, unknown> | undefined, limits: DetailLimits = DETAIL_LIMITS): string | null {
  if (value === undefined) return null;
  try {
    const cut = { any: false };
    const copy = bounded(value, 0, limits, new Set(), cut) as Record<string, unknown>;
    const text = JSON.stringify(cut.any ? { ...copy, truncated: true } : copy);
    if (text.length <= limits.maxChars) return text;
    // Escaping can lengthen the preview: shorten it until the whole row detail fits.
    let preview = text.slice(0, limits.maxChars - 64);
    let out = JSON.stringify({ truncated: true, preview });
    while (out.length > limits.maxChars) {
      preview = preview.slice(0, Math.max(0, preview.length - (out.length - limits.maxChars) - 1));
      out = JSON.stringify({ truncated: true, preview });
    }
    return out;
  } catch {
    return JSON.stringify({ truncated: true, unserializable: true });
  }
}
