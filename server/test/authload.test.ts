import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ADMIN_PASSWORD, DIALECTS, USER_PASSWORD, call, createUser, login, startProcess, startServer, withServer } from './helpers.js';
import { CREDENTIAL_CACHE_MS, CredentialCache } from '../src/modules/auth/credential-cache.js';
import type { SessionCredentials } from '../src/modules/auth/repository.js';

// Issue 16: the auth hook answers a token from a short in-process cache. Every revocation made in
// the process clears it before the revoking request answers; another process on the same
// database sees a revocation within CREDENTIAL_CACHE_MS.

const credentials = (username: string): SessionCredentials => ({
  sessionId: 's',
  sessionUserId: 1,
  revokedAt: null,
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
  user: { id: 1, username, tokenVersion: 0, isActive: true },
  roles: [],
  permissions: [],
});

describe('credential cache', () => {
  test('a fresh entry is served without a lookup; an old one is read again', async () => {
    let now = 0;
    const cache = new CredentialCache(1000, () => now);
    let loads = 0;
    const load = () => {
      loads += 1;
      return Promise.resolve(credentials(`u${loads}`));
    };
    assert.equal((await cache.get('k', load))?.user?.username, 'u1');
    now = 999;
    assert.equal((await cache.get('k', load))?.user?.username, 'u1');
    assert.equal(loads, 1);
    now = 1000;
    assert.equal((await cache.get('k', load))?.user?.username, 'u2', 'past the TTL the database is asked again');
  });

  test('concurrent misses share one lookup; an invalidation cuts new callers off from it and keeps it out of the cache', async () => {
    const cache = new CredentialCache(60_000);
    let release: (value: SessionCredentials) => void = () => undefined;
    let loads = 0;
    const slow = () => {
      loads += 1;
      return new Promise<SessionCredentials>((resolve) => {
        release = resolve;
      });
    };
    const a = cache.get('k', slow);
    const b = cache.get('k', slow);
    assert.equal(loads, 1, 'one query for parallel requests of one session');
    const started = release;
    // The revocation commits while the old read is still under way.
    cache.invalidate();
    const c = cache.get('k', () => Promise.resolve(credentials('after')));
    started(credentials('before'));
    assert.equal((await a)?.user?.username, 'before');
    assert.equal((await b)?.user?.username, 'before');
    assert.equal((await c)?.user?.username, 'after', 'a request after the revocation does not join the older read');
    assert.equal((await cache.get('k', () => Promise.resolve(credentials('fresh'))))?.user?.username, 'after');
    cache.invalidate();
    assert.equal((await cache.get('k', () => Promise.resolve(credentials('fresh'))))?.user?.username, 'fresh');
  });

  test('a read started before an invalidation is not stored', async () => {
    const cache = new CredentialCache(60_000);
    let release: (value: SessionCredentials) => void = () => undefined;
    const pending = cache.get('k', () => new Promise<SessionCredentials>((resolve) => (release = resolve)));
    cache.invalidate();
    release(credentials('stale'));
    await pending;
    assert.equal((await cache.get('k', () => Promise.resolve(credentials('current'))))?.user?.username, 'current');
  });
});

for (const dialect of DIALECTS) {
  describe(`revocation with the credential cache on ${dialect}`, () => {
    const ctx = withServer(dialect);

    /** A few requests so the token's session is cached, then the check that it still works. */
    async function warm(token: string): Promise<void> {
      for (let i = 0; i < 3; i += 1) assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token })).status, 200);
    }

    async function refusedNext(token: string, what: string): Promise<void> {
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token });
      assert.equal(me.status, 401, `${what}: the very next request is refused`);
      assert.equal(me.body.error.type, 'AuthenticationError');
    }

    test('logout and a replayed refresh token end a cached session on the next request', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const session = await login(ctx.t.url, user.username, USER_PASSWORD);
      await warm(session.token);
      assert.equal((await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token: session.token })).status, 200);
      await refusedNext(session.token, 'logout');

      const second = await login(ctx.t.url, user.username, USER_PASSWORD);
      const rotated = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: second.refresh } });
      assert.equal(rotated.status, 200);
      const fresh = rotated.body.data.access_token as string;
      await warm(fresh);
      const replay = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: second.refresh } });
      assert.equal(replay.status, 401);
      await refusedNext(fresh, 'replayed refresh token');
    });

    test("password change, reset, disabling, role change and deletion end a cached account's tokens on the next request", async () => {
      const own = await createUser(ctx.t.url, ctx.admin, ['tech']);
      await warm(own.token);
      const changed = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/settings/password', {
        token: own.token,
        body: { old_password: USER_PASSWORD, new_password: 'Another-Strong-Pass-77', confirm_new_password: 'Another-Strong-Pass-77' },
      });
      assert.equal(changed.status, 200, changed.text);
      await refusedNext(own.token, 'own password change');

      const cases: [string, (id: number) => Promise<number>][] = [
        ['reset', async (id) => (await call(ctx.t.url, 'POST', `/api/v1/users/${id}/reset-password`, { token: ctx.admin })).status],
        [
          'disable',
          async (id) => (await call(ctx.t.url, 'PUT', `/api/v1/users/${id}`, { token: ctx.admin, body: { is_active: false } })).status,
        ],
        [
          'roles',
          async (id) => (await call(ctx.t.url, 'PUT', `/api/v1/users/${id}`, { token: ctx.admin, body: { roles: ['doctor'] } })).status,
        ],
        ['delete', async (id) => (await call(ctx.t.url, 'DELETE', `/api/v1/users/${id}`, { token: ctx.admin })).status],
      ];
      for (const [what, act] of cases) {
        const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
        await warm(user.token);
        assert.equal(await act(user.id), 200, what);
        await refusedNext(user.token, what);
      }
    });

    test('a cached permission set follows a role change on the next request', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
      for (let i = 0; i < 3; i += 1)
        assert.equal((await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study', { token: user.token })).status, 200);
      // The role itself loses the permission (no token version bump): only the cache's invalidation can tell.
      const techRole = await ctx.t.server.db.kysely.selectFrom('roles').select('id').where('name', '=', 'tech').executeTakeFirstOrThrow();
      const grants = await ctx.t.server.db.kysely.selectFrom('role_permissions').selectAll().where('role_id', '=', techRole.id).execute();
      await ctx.t.server.db.kysely
        .deleteFrom('role_permissions')
        .where('role_id', '=', techRole.id)
        .where('permission', '=', 'study:read')
        .execute();
      try {
        const list = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study', { token: user.token });
        assert.equal(list.status, 403, 'the permission is gone on the next request');
      } finally {
        await ctx.t.server.db.kysely
          .insertInto('role_permissions')
          .values(grants.filter((g) => g.permission === 'study:read'))
          .execute();
      }
      assert.equal((await call(ctx.t.url, 'GET', '/dr/api/v1/auth/study', { token: user.token })).status, 200);
    });
  });
}

describe('revocation seen by another process on the same PostgreSQL schema', { skip: !DIALECTS.includes('postgres') }, () => {
  test(`within CREDENTIAL_CACHE_MS (${CREDENTIAL_CACHE_MS} ms) for logout and for a disabled account`, async () => {
    const key = randomBytes(32).toString('base64');
    const local = await startServer('postgres', { ROENTGEN_SECRET_KEY: key });
    const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-test-'));
    const other = await startProcess({ ...local.env, ROENTGEN_DATA_DIR: otherDir, PORT: '0' });
    try {
      const admin = (await login(local.url, 'admin', ADMIN_PASSWORD)).token;

      /** Revokes on this process, then polls the other one until it refuses the token; returns how long that took. */
      async function seenAfter(token: string, revoke: () => Promise<void>): Promise<number> {
        for (let i = 0; i < 5; i += 1) assert.equal((await call(other.url, 'GET', '/api/v1/auth/me', { token })).status, 200);
        await revoke();
        assert.equal((await call(local.url, 'GET', '/api/v1/auth/me', { token })).status, 401, 'this process: at once');
        const started = performance.now();
        for (;;) {
          const status = (await call(other.url, 'GET', '/api/v1/auth/me', { token })).status;
          const elapsed = performance.now() - started;
          if (status === 401) return elapsed;
          assert.equal(status, 200);
          assert.ok(elapsed < 5000, 'the other process never saw the revocation');
          await new Promise((r) => setTimeout(r, 25));
        }
      }

      const session = await login(local.url, 'admin', ADMIN_PASSWORD);
      const afterLogout = await seenAfter(session.token, async () => {
        assert.equal((await call(local.url, 'POST', '/api/v1/auth/logout', { token: session.token })).status, 200);
      });
      const user = await createUser(local.url, admin, ['tech']);
      const afterDisable = await seenAfter(user.token, async () => {
        const res = await call(local.url, 'PUT', `/api/v1/users/${user.id}`, { token: admin, body: { is_active: false } });
        assert.equal(res.status, 200);
      });
      // The bound plus the time one request takes on a busy two-core machine.
      for (const [what, ms] of [
        ['logout', afterLogout],
        ['disable', afterDisable],
      ] as const) {
        assert.ok(ms <= CREDENTIAL_CACHE_MS + 500, `${what} seen by the other process after ${ms.toFixed(0)} ms`);
      }
    } finally {
      await other.stop();
      await local.close();
      fs.rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
