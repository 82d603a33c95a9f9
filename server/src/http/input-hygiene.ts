import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../util/errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Container {
  /** Keys seen so far; undefined for an array. */
  keys: Set<string> | undefined;
  expectKey: boolean;
  lastKey: string;
  /** Dotted path of the container, for the field named in a refusal. */
  path: string;
}

/** Not well-formed JSON for us (duplicate keys, bytes that are not UTF-8). */
function refused(field: string, message: string): AppError {
  return new AppError('MALFORMED_BODY', [{ field, message }]);
}

/** Well-formed JSON whose text value cannot be accepted (NUL, a lone surrogate). */
function refusedValue(field: string, message: string): AppError {
  return new AppError('VALIDATION', [{ field, message }]);
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Index of the closing quote of the string starting at `start` (text is valid JSON). */
function stringEnd(text: string, start: number): { end: number; escaped: boolean } {
  let end = start + 1;
  let escaped = false;
  while (end < text.length) {
    const d = text.charCodeAt(end);
    if (d === 0x22 /* " */) break;
    if (d === 0x5c /* \ */) {
      escaped = true;
      end += 2;
    } else end += 1;
  }
  return { end, escaped };
}

/**
 * One linear pass over text that JSON.parse has accepted: refuses a key repeated in one object
 * (JSON.parse keeps the last silently, so two readers of one body could disagree) and any string
 * or key holding NUL or an unpaired UTF-16 surrogate (`"\ud800"` parses, then turns into U+FFFD when
 * stored). The cost is one Set entry per key; nesting is tracked on an explicit stack.
 */
export function checkJsonText(text: string): void {
  const stack: Container[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    const top = stack.at(-1);
    if (c === 0x22 /* " */) {
      const { end, escaped } = stringEnd(text, i);
      const raw = text.slice(i, end + 1);
      const value = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      const isKey = top?.keys !== undefined && top.expectKey;
      const field = top ? (isKey ? join(top.path, value) : top.keys ? join(top.path, top.lastKey) : top.path) : '';
      if (escaped && LONE_SURROGATE.test(value)) throw refusedValue(field || '(body)', 'contains an unpaired UTF-16 surrogate');
      // NUL has no place in any text we keep (DICOM, SQL full-text and C strings all end at it).
      if (escaped && value.includes('\u0000')) throw refusedValue(field || '(body)', 'must not contain NUL characters');
      if (isKey && top.keys) {
        if (top.keys.has(value)) throw refused(field, 'duplicate key');
        top.keys.add(value);
        top.expectKey = false;
        top.lastKey = value;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const path = top ? (top.keys ? join(top.path, top.lastKey) : top.path) : '';
      stack.push({ keys: c === 0x7b ? new Set() : undefined, expectKey: c === 0x7b, lastKey: '', path });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */ && top?.keys) {
      top.expectKey = true;
    }
  }
}

/**
 * The JSON body parser: bytes must be valid UTF-8 (Fastify's own parser decodes invalid bytes to
 * U+FFFD silently), then Fastify's prototype-poisoning-safe parse, then the duplicate-key and
 * surrogate scan above. Every refusal is a 400 in the envelope naming the field.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(refused('(body)', 'is not valid UTF-8'), undefined);
      return;
    }
    void parse(request, text, (error, value) => {
      if (error) {
        done(error, undefined);
        return;
      }
      try {
        checkJsonText(text);
      } catch (refusal) {
        done(refusal as AppError, undefined);
        return;
      }
      done(null, value);
    });
  });
}

/** A percent-encoded C0 control, DEL or (as UTF-8) C1 control: never part of a path or query we serve. */
const ENCODED_CONTROL = /%(?:[01][0-9a-f]|7f)|%c2%[89][0-9a-f]/i;

/** The query parameter (or path) holding an encoded control character, for the refusal's field. */
function controlField(url: string): string {
  const query = url.indexOf('?');
  if (query < 0 || ENCODED_CONTROL.test(url.slice(0, query))) return '(path)';
  for (const part of url.slice(query + 1).split('&')) {
    if (ENCODED_CONTROL.test(part)) {
      const name = part.split('=')[0] ?? '';
      try {
        return decodeURIComponent(name.replace(/\+/g, ' ')) || '(query)';
      } catch {
        return '(query)';
      }
    }
  }
  return '(query)';
}

/**
 * Control characters (NUL, CR, LF, …) in the URL are refused before any handler sees them: a NUL
 * in a search term broke the SQLite full-text query, and none of them belongs in an id or a term.
 */
export function installUrlHygiene(app: FastifyInstance): void {
  // preValidation, not onRequest: the rate limiter (a route-level onRequest hook) has counted the request by then.
  app.addHook('preValidation', (request, _reply, done) => {
    if (ENCODED_CONTROL.test(request.url)) {
      const field = controlField(request.url);
      done(new AppError('VALIDATION', [{ field, message: 'must not contain control characters' }]));
      return;
    }
    done();
  });
}
