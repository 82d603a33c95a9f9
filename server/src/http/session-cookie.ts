import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The same-origin session cookie: a browser's <img src="/pub/thumbnail/…"> cannot send an
 * Authorization header, so login (and a guest token from software_info) also sets the access
 * token as an HttpOnly, SameSite=Strict cookie. It is read only by the file routes that declare
 * `cookie: true` (GETs; never a write), and it carries the session id like the bearer token, so
 * logout or a revoked session ends it too.
 */
export const USER_COOKIE = 'roentgen_session';
export const GUEST_COOKIE = 'roentgen_guest';

export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  expiresAtSeconds: number,
  guest: boolean,
): void {
  reply.setCookie(guest ? GUEST_COOKIE : USER_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    path: '/',
    maxAge: Math.max(0, expiresAtSeconds - Math.floor(Date.now() / 1000)),
  });
}

export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply): void {
  const secure = request.protocol === 'https';
  for (const name of [USER_COOKIE, GUEST_COOKIE]) reply.clearCookie(name, { path: '/', httpOnly: true, sameSite: 'strict', secure });
}

/** The session cookies a request carries, the user's first (a console that logged in after using the guest workflow). */
export function sessionCookies(request: FastifyRequest): string[] {
  const header = request.headers.cookie;
  if (!header) return [];
  const parsed = request.server.parseCookie(header);
  return [parsed[USER_COOKIE], parsed[GUEST_COOKIE]].filter((v): v is string => typeof v === 'string' && v.length > 0);
}
