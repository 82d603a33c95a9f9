import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ok } from '../../http/envelope.js';
import { requireUser } from '../../http/auth-hooks.js';
import { BEARER, defaultEmptyBody, diagnosisRoute, drRoute, type App } from '../../http/routing.js';
import { clearSessionCookies, setSessionCookie } from '../../http/session-cookie.js';
import type { UsersService } from '../users/service.js';
import type { AuthService, IssuedSession } from './service.js';
import { ACCESS_TOKEN_SECONDS } from './tokens.js';

const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password: Type.String({ minLength: 1, maxLength: 256 }),
  remember_me: Type.Optional(Type.Boolean()),
  captcha: Type.Optional(Type.String({ maxLength: 64 })),
  captcha_key: Type.Optional(Type.String({ maxLength: 128 })),
});

/** The address login back-off is keyed on; Fastify leaves `ip` undefined once the socket has gone. */
function clientAddress(request: { ip: string | undefined }): string {
  return request.ip ?? 'unknown';
}

function sessionBody(session: IssuedSession) {
  const u = session.user;
  return {
    access_token: session.accessToken,
    refresh_token: session.refreshToken,
    token_type: 'Bearer',
    expires_in: ACCESS_TOKEN_SECONDS,
    user: {
      id: u.id,
      username: u.username,
      full_name: u.full_name,
      email: u.email,
      roles: session.roles,
      permissions: session.permissions,
    },
  };
}

/** After a login: where the session came from, and the file routes' session cookie. */
/** After a login on either face: the audit row names the account, and the browser gets the session cookie. */
function opened(request: FastifyRequest, reply: FastifyReply, session: IssuedSession): void {
  request.auditInfo = {
    userId: session.user.id,
    username: session.user.username,
    resourceType: 'session',
    resourceId: String(session.user.id),
  };
  setSessionCookie(request, reply, session.accessToken, session.accessClaims.exp, false);
}

/** Diagnosis face: login, refresh, logout, me. */
export function diagnosisAuthRoutes(app: App, auth: AuthService, users: UsersService): void {
  app.post(
    '/api/v1/auth/login',
    {
      schema: { tags: ['auth'], summary: 'Log in with username and password', body: LoginBody },
      config: diagnosisRoute('public', { audit: 'auth.login' }),
    },
    async (request, reply) => {
      request.auditInfo = { username: request.body.username, resourceType: 'session' };
      // Captcha fields are accepted for client compatibility; no captcha is issued or checked.
      const session = await auth.login(request.body.username, request.body.password, clientAddress(request));
      request.authUser = undefined;
      opened(request, reply, session);
      return ok(request, reply, sessionBody(session));
    },
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new token pair',
        body: Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 4096 }) }),
      },
      config: diagnosisRoute('public', { audit: 'auth.refresh' }),
    },
    async (request, reply) => {
      const session = await auth.refresh(request.body.refresh_token);
      request.auditInfo = { username: session.user.username, resourceType: 'session', resourceId: String(session.user.id) };
      setSessionCookie(request, reply, session.accessToken, session.accessClaims.exp, false);
      return ok(request, reply, sessionBody(session));
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the current session: its access and refresh tokens stop working (a body is optional)',
        security: BEARER,
        body: Type.Object({ refresh_token: Type.Optional(Type.String({ maxLength: 4096 })) }),
      },
      config: diagnosisRoute('authenticated', { guest: true, audit: 'auth.logout' }),
      preValidation: defaultEmptyBody,
    },
    async (request, reply) => {
      await auth.logout(requireUser(request), request.body.refresh_token);
      clearSessionCookies(request, reply);
      return ok(request, reply, null);
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The current user with roles and permissions', security: BEARER },
      config: diagnosisRoute('authenticated', { guest: true }),
    },
    async (request, reply) => {
      const user = requireUser(request);
      const view = await users.get(user.id, user).catch(() => undefined);
      return ok(request, reply, {
        ...(view ?? { id: user.id, username: user.username }),
        roles: user.roles,
        permissions: [...user.permissions].sort(),
      });
    },
  );
}

/** DR face: `pub/login` and `auth/settings/password`. */
export function drAuthRoutes(app: App, auth: AuthService): void {
  app.post(
    '/pub/login',
    {
      schema: { tags: ['dr-auth'], summary: 'Console login', body: LoginBody },
      config: drRoute('public', { audit: 'auth.login' }),
    },
    async (request, reply) => {
      request.auditInfo = { username: request.body.username, resourceType: 'session' };
      const session = await auth.login(request.body.username, request.body.password, clientAddress(request));
      opened(request, reply, session);
      return ok(request, reply, {
        token: session.accessToken,
        expire: session.accessClaims.exp,
        uid: session.user.id,
        name: session.user.username,
        avatar: session.user.avatar,
        refresh_token: session.refreshToken,
      });
    },
  );

  app.post(
    '/auth/settings/password',
    {
      schema: {
        tags: ['dr-auth'],
        summary: 'Change your own password',
        security: BEARER,
        body: Type.Object({
          old_password: Type.String({ minLength: 1, maxLength: 256 }),
          new_password: Type.String({ minLength: 1, maxLength: 256 }),
          confirm_new_password: Type.String({ minLength: 1, maxLength: 256 }),
        }),
      },
      config: drRoute('authenticated', { audit: 'auth.change_password' }),
    },
    async (request, reply) => {
      const user = requireUser(request);
      request.auditInfo = { resourceType: 'user', resourceId: String(user.id) };
      await auth.changeOwnPassword(
        user.id,
        request.body.old_password,
        request.body.new_password,
        request.body.confirm_new_password,
        clientAddress(request),
      );
      // Every session of the account ends (the token version already voids their tokens); open MQTT connections close now.
      await auth.endSessionsOf(user.id, 'password_changed');
      clearSessionCookies(request, reply);
      return ok(request, reply, {});
    },
  );
}
