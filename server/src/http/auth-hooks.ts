import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthService } from '../modules/auth/service.js';
import type { AuthUser } from './context.js';
import { AppError } from '../util/errors.js';
import { sessionCookies } from './session-cookie.js';

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/**
 * Resolves the bearer token on every request (so the rate limiter can key by user), then
 * enforces each route's declared access before its handler runs.
 */
export function installAuthHooks(app: FastifyInstance, auth: AuthService): void {
  app.addHook('onRequest', async (request) => {
    request.authUser = undefined;
    request.authFailure = undefined;
    const token = bearerToken(request);
    if (token === undefined) {
      if (request.routeOptions.config.roentgen?.cookie) await authenticateByCookie(request, auth);
      return;
    }
    if (token === '') {
      request.authFailure = 'TOKEN_INVALID';
      return;
    }
    const outcome = await auth.authenticate(token);
    if (typeof outcome === 'string') request.authFailure = outcome;
    else request.authUser = outcome;
  });

  // Before validation, so a caller without access learns nothing from validation messages.
  // eslint-disable-next-line @typescript-eslint/require-await -- a Fastify hook: what it throws must reach the error handler as a rejection
  app.addHook('preValidation', async (request) => {
    const options = request.routeOptions.config.roentgen;
    if (!options || options.access === 'public') return;
    const user = requireUser(request);
    if (user.isGuest && !options.guest) throw new AppError('GUEST_SCOPE');
    if (options.access !== 'authenticated') {
      const needed = [options.access.permission].flat();
      if (!needed.some((p) => user.permissions.has(p))) throw new AppError('FORBIDDEN', [], needed.join(' | '));
    }
  });
}

/** File routes a browser loads by URL accept the session cookie when no bearer token is sent. */
async function authenticateByCookie(request: FastifyRequest, auth: AuthService): Promise<void> {
  for (const token of sessionCookies(request)) {
    const outcome = await auth.authenticate(token);
    if (typeof outcome !== 'string') {
      request.authUser = outcome;
      return;
    }
    request.authFailure ??= outcome;
  }
}

/** The authenticated caller, or the reason the request is refused. */
export function requireUser(request: FastifyRequest): AuthUser {
  if (request.authUser) return request.authUser;
  throw new AppError(request.authFailure ?? 'UNAUTHENTICATED');
}
