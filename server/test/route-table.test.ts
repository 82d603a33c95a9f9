import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { ADMIN_PASSWORD, DIALECTS, call, createUser, isDrError, login, withServer } from './helpers.js';

/** Fills path parameters with a plausible value so the request reaches the route. */
function concrete(url: string): string {
  if (url.includes('/Image/Position/')) return url.replace(':patient_type', 'Human').replace(':file', 'skull.ap.table.x.png');
  return url.replace(/:([A-Za-z_]+)/g, (_m, name: string) => (name.includes('locale') ? 'zh_CN' : name === 'file' ? 'zh.js' : '1'));
}

for (const dialect of DIALECTS) {
  describe(`route table on ${dialect}`, () => {
    const ctx = withServer(dialect);
    let noPermissions: string;
    let expired: string;
    let revoked: string;
    let guest: string;
    before(async () => {
      const db = ctx.t.server.db.kysely;
      const roleName = `empty_${randomUUID().slice(0, 6)}`;
      await db
        .insertInto('roles')
        .values({
          name: roleName,
          display_name_en: 'Empty',
          display_name_zh: '空',
          description: '',
          is_builtin: 0,
          created_at: new Date().toISOString(),
        })
        .execute();
      noPermissions = (await createUser(ctx.t.url, ctx.admin, [roleName])).token;
      const secret = (await db.selectFrom('server_secrets').select('value').where('name', '=', 'jwt_secret').executeTakeFirstOrThrow())
        .value;
      const past = Math.floor(Date.now() / 1000) - 7200;
      expired = await new SignJWT({ id: 1, name: 'admin', typ: 'access', ver: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setJti(randomUUID())
        .setIssuedAt(past)
        .setExpirationTime(past + 3600)
        .sign(new TextEncoder().encode(secret));
      revoked = (await login(ctx.t.url, 'admin', ADMIN_PASSWORD)).token;
      assert.equal((await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token: revoked })).status, 200);
      guest = (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
    });

    test('every API route declares its face and access', () => {
      const api = ctx.t.server.routes.filter((r) => r.url.startsWith('/api/') || r.url.startsWith('/dr/'));
      assert.ok(api.length >= 30, `only ${api.length} routes`);
      for (const route of api) assert.ok(route.options, `${route.method} ${route.url} declares no access`);
    });

    test('every protected route refuses missing, expired, revoked and under-privileged tokens', async () => {
      const protectedRoutes = ctx.t.server.routes.filter((r) => r.options && r.options.access !== 'public' && r.method !== 'HEAD');
      assert.ok(protectedRoutes.length >= 15);
      for (const route of protectedRoutes) {
        const url = concrete(route.url);
        const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method) ? {} : undefined;
        const label = `${route.method} ${route.url}`;
        for (const [what, token] of [
          ['missing', undefined],
          ['expired', expired],
          ['revoked', revoked],
          ['garbage', 'x.y.z'],
        ] as const) {
          const res = await call(ctx.t.url, route.method, url, { token, body });
          assert.equal(res.status, 401, `${label} with ${what} token: ${res.text}`);
        }
        if (typeof route.options?.access === 'object') {
          const res = await call(ctx.t.url, route.method, url, { token: noPermissions, body });
          assert.equal(res.status, 403, `${label} without ${String(route.options.access.permission)}: ${res.text}`);
        }
        if (!route.options?.guest) {
          const res = await call(ctx.t.url, route.method, url, { token: guest, body });
          assert.equal(res.status, 403, `${label} with the guest token: ${res.text}`);
        }
      }
    });

    test('public routes answer without a token', async () => {
      for (const route of ctx.t.server.routes.filter((r) => r.options?.access === 'public' && r.method === 'GET')) {
        const res = await call(ctx.t.url, 'GET', concrete(route.url));
        // Thumbnail, DICOM and capture kinds are private by default: without a token or cookie the
        // answer is "not public" whether or not the file exists (so it reveals nothing).
        const privateFile = /\/pub\/(thumbnail|dcm|capture)\//.test(route.url) && res.status === 401 && isDrError(res.body, '0x070002');
        assert.ok(res.status < 400 || privateFile, `${route.url}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    });
  });
}
