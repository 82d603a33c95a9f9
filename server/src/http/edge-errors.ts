import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorName } from '../util/errors.js';
import { faceOfUrl, readClientHeaders, type Language, type Product } from './context.js';
import { errorBody } from './envelope.js';
import { sendError } from './error-handler.js';
import { ERRORS } from './errors.js';
import { applySecurityHeaders, securityHeaders } from './security-headers.js';

/**
 * Errors Fastify raises before a request reaches routing and hooks (a URL that does not decode,
 * a path parameter over the router's limit): answered in the face's envelope with the security
 * headers, like every other error.
 */
export function frameworkErrorResponder(defaultProduct: Product) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    readClientHeaders(request, defaultProduct);
    reply.header('X-Request-ID', request.id);
    applySecurityHeaders(request, reply);
    const name: ErrorName =
      error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : error.code === 'FST_ERR_ASYNC_CONSTRAINT' ? 'INTERNAL' : 'BAD_REQUEST';
    void sendError(request, reply, name);
  };
}

/** The URL of the last request read on each connection: a parser error later on it is answered in that face. */
const lastUrl = new WeakMap<object, string>();

/** Remembers each connection's latest request URL (as Node parses it, before any hook; dropped with the socket). */
export function installConnectionMemory(app: FastifyInstance): void {
  app.server.on('request', (request: IncomingMessage) => {
    if (request.url !== undefined) lastUrl.set(request.socket, request.url);
  });
}

/** What Node's HTTP parser reports with a refused request (`rawPacket`: the chunk it failed on, a Buffer at run time). */
type ParserError = Error & { code?: string; rawPacket?: unknown };

const REQUEST_LINE = /^[A-Z]{3,10} (\S{1,8192}) HTTP\/1\.[01]\r?\n/;
const LANGUAGE_HEADER = /\r?\nlanguage:[ \t]*([A-Za-z_-]{2,8})/i;

/** The URL and Language header of a refused request, when the chunk the parser failed on holds them. */
function requestHead(raw: unknown): { url: string; language: Language } {
  const text = Buffer.isBuffer(raw) ? raw.subarray(0, 16 * 1024).toString('latin1') : '';
  const url = REQUEST_LINE.exec(text)?.[1] ?? '/';
  const language = LANGUAGE_HEADER.exec(text)?.[1]?.toLowerCase().startsWith('en') ? 'en_US' : 'zh_CN';
  return { url, language };
}

function parserErrorName(code: string | undefined): ErrorName {
  if (code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'BAD_REQUEST';
}

/**
 * Requests Node's HTTP parser refuses (oversized headers, a malformed Content-Length, bytes that
 * are not HTTP) never reach Fastify; Node would write a bare status line. We write the envelope and
 * the security headers to the socket ourselves, then close it (the stream is out of sync).
 */
export function clientErrorResponder(error: ParserError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const refusedHead = requestHead(error.rawPacket);
  const url = refusedHead.url === '/' ? (lastUrl.get(socket) ?? '/') : refusedHead.url;
  const { language } = refusedHead;
  const name = parserErrorName(error.code);
  const entry = ERRORS[name];
  const requestId = `req_${randomUUID().replace(/-/g, '')}`;
  const body = JSON.stringify(errorBody(faceOfUrl(url), language, requestId, entry, [], undefined));
  const headers: Record<string, string> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    'X-Request-ID': requestId,
    ...securityHeaders(url, 'encrypted' in socket && socket.encrypted === true),
  };
  const head = Object.entries(headers)
    .map(([key, value]) => `${key}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${entry.status} ${http.STATUS_CODES[entry.status] ?? 'Error'}\r\n${head}\r\n${body}`);
  // A client that never reads must not hold the socket open.
  setTimeout(() => socket.destroy(), 5000).unref();
}
