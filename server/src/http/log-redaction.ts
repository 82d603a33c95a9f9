import type { FastifyRequest } from 'fastify';

/**
 * Query parameters whose values never reach the request log: searches carry patient names,
 * phone and ID-card numbers (a lookup by number must not leave the number in a log file that
 * ops tools ship elsewhere), and a few clients put tokens in the query.
 */
const SENSITIVE = /search|keyword|name|phone|id_card|card|token|password|secret|code|^q$/i;

/** The URL as logged: the path, and each sensitive query value replaced by `***`. */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?');
  if (mark < 0) return url;
  const params = new URLSearchParams(url.slice(mark + 1));
  const shown: string[] = [];
  for (const [key, value] of params) shown.push(`${encodeURIComponent(key)}=${SENSITIVE.test(key) ? '***' : encodeURIComponent(value)}`);
  return `${url.slice(0, mark)}?${shown.join('&')}`;
}

/** Fastify's request serializer with the URL redacted (otherwise the same fields as its default). */
export function requestLogFields(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket.remotePort,
  };
}
