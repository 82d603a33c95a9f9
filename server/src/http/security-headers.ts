import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Swagger UI (the only HTML we serve) needs inline styles and data: images; nothing else does. */
const DOCS_PREFIX = '/docs';
const CSP = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";
const DOCS_CSP = `${CSP}; img-src 'self' data:; style-src 'self' 'unsafe-inline'`;
const HSTS = 'max-age=31536000; includeSubDomains';

function isDocs(url: string): boolean {
  const pathOnly = url.split('?')[0] ?? url;
  return pathOnly === DOCS_PREFIX || pathOnly.startsWith(`${DOCS_PREFIX}/`);
}

/**
 * The security headers of every response, including the ones Fastify or Node would otherwise
 * write on their own (bad URL, oversized headers). One table, so those paths cannot drift from it.
 * HSTS only over TLS: over plain HTTP it is ignored by browsers and claims a protection that is not there.
 */
export function securityHeaders(url: string, tls: boolean): Record<string, string> {
  return {
    'Content-Security-Policy': isDocs(url) ? DOCS_CSP : CSP,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Origin-Agent-Cluster': '?1',
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-DNS-Prefetch-Control': 'off',
    'X-Download-Options': 'noopen',
    'X-Frame-Options': 'DENY',
    'X-Permitted-Cross-Domain-Policies': 'none',
    // The spec's header list asks for the legacy XSS filter on.
    'X-XSS-Protection': '1; mode=block',
    ...(tls ? { 'Strict-Transport-Security': HSTS } : {}),
  };
}

/** Sets the security headers on a reply unless they are there already (idempotent; error paths call it too). */
export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  if (reply.hasHeader('x-content-type-options')) return;
  reply.headers(securityHeaders(request.url, request.protocol === 'https'));
}

/** First onRequest hook: every reply that goes through Fastify carries the headers. */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    applySecurityHeaders(request, reply);
    done();
  });
}
