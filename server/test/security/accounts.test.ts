import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { describe, test } from 'node:test';
import { Migrator } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/index.js';
import { migrateToLatest, migrationsFor } from '../../src/db/migrate.js';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  SEED_PASSWORD,
  USER_PASSWORD,
  call,
  createUser,
  isDiagnosisError,
  dropSchema,
  isolatedEnv,
  login,
  startProcess,
  withServer,
  type ApiResponse,
} from '../helpers.js';

const EN = { Language: 'en_US' };

/** A JSON POST sent from a chosen loopback address (127.0.0.0/8 all reach the server), so back-off sees another source. */
function postFrom(source: string, base: string, urlPath: string, body: unknown): Promise<ApiResponse> {
  const payload = JSON.stringify(body);
  const url = new URL(urlPath, base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: source,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...EN },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers, text, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const loginFrom = (source: string, base: string, username: string, password: string) =>
  postFrom(source, base, '/api/v1/auth/login', { username, password });

/** The parts of an error answer that could tell two refusals apart (request id and time always differ). */
function refusalShape(res: ApiResponse): unknown {
  const body = { ...(res.body as Record<string, unknown>) };
  delete body.request_id;
  delete body.timestamp;
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

function assertRefused(res: ApiResponse, code: string, what: string): void {
  assert.equal(res.status, 403, `${what}: ${res.text}`);
  assert.ok(isDiagnosisError(res.body, 403, 'PermissionError'), res.text);
  const expected = code === 'PRIVILEGE_EXCEEDED' ? /You cannot grant, or manage an account holding/ : /You cannot change your own roles/;
  assert.match(res.body.message, expected, what);
}

for (const dialect of DIALECTS) {
  describe(`accounts security on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const mgrSession = () => login(ctx.t.url, 'mgr', SEED_PASSWORD);
    const userId = async (token: string) => (await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token })).body.data.id as number;

    test('finding 6: admin-only permissions are held by the admin role alone', async () => {
      const roles = await call(ctx.t.url, 'GET', '/api/v1/roles', { token: ctx.admin });
      const byName = new Map<string, string[]>(
        roles.body.data.roles.map((r: { name: string; permissions: string[] }) => [r.name, r.permissions]),
      );
      for (const permission of ['user:admin', 'system:security', 'audit:export']) {
        assert.ok(byName.get('admin')?.includes(permission), `admin holds ${permission}`);
        for (const [name, permissions] of byName)
          if (name !== 'admin') assert.ok(!permissions.includes(permission), `${name} lacks ${permission}`);
      }
    });

    test('finding 6: mgr cannot create an administrator, nor grant a role it does not fully hold', async () => {
      const { token } = await mgrSession();
      const username = `evil_${randomUUID().slice(0, 8)}`;
      const res = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token,
        headers: EN,
        body: { username, password: USER_PASSWORD, full_name: 'Evil admin', role_ids: ['admin'] },
      });
      assertRefused(res, 'PRIVILEGE_EXCEEDED', 'mgr creating an admin');
      assert.equal(res.body.error.details[0].field, 'role_ids');
      assert.match(res.body.error.details[0].message, /user:admin/);
      const listed = await call(ctx.t.url, 'GET', `/api/v1/users?search=${username}`, { token: ctx.admin });
      assert.equal(listed.body.data.pagination.total, 0, 'no account was written');
      const login401 = await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username, password: USER_PASSWORD } });
      assert.equal(login401.status, 401);
      // A role within mgr's own permissions may still be granted.
      const tech = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token,
        body: { username: `tech_${randomUUID().slice(0, 8)}`, password: USER_PASSWORD, full_name: 'New tech', role_ids: ['tech'] },
      });
      assert.equal(tech.status, 201, tech.text);
      // ...but not turned into an admin afterwards.
      const promote = await call(ctx.t.url, 'PUT', `/api/v1/users/${tech.body.data.id}`, {
        token,
        headers: EN,
        body: { roles: ['tech', 'admin'] },
      });
      assertRefused(promote, 'PRIVILEGE_EXCEEDED', 'mgr promoting a tech to admin');
      assert.deepEqual((await call(ctx.t.url, 'GET', `/api/v1/users/${tech.body.data.id}`, { token: ctx.admin })).body.data.roles, [
        'tech',
      ]);
    });

    test('finding 6: mgr cannot promote itself (the issue reproduction), nor drop its own roles', async () => {
      const { token } = await mgrSession();
      const mgrId = await userId(token);
      const promote = await call(ctx.t.url, 'PUT', `/api/v1/users/${mgrId}`, { token, headers: EN, body: { roles: ['mgr', 'admin'] } });
      assertRefused(promote, 'CANNOT_CHANGE_OWN_ROLES', 'mgr promoting itself');
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token });
      assert.equal(me.status, 200, 'the session was not reset by a refused change');
      assert.deepEqual(me.body.data.roles, ['mgr']);
      assert.ok(!me.body.data.permissions.includes('user:admin'));
      const sameRoles = await call(ctx.t.url, 'PUT', `/api/v1/users/${mgrId}`, { token, body: { roles: ['mgr'] } });
      assert.equal(sameRoles.status, 200, 'sending one’s unchanged roles back with a profile edit is fine');
      // An administrator cannot change its own roles either (another one must).
      const adminId = await userId(ctx.admin);
      const selfDemote = await call(ctx.t.url, 'PUT', `/api/v1/users/${adminId}`, {
        token: ctx.admin,
        headers: EN,
        body: { roles: ['admin', 'doctor'] },
      });
      assertRefused(selfDemote, 'CANNOT_CHANGE_OWN_ROLES', 'admin changing its own roles');
    });

    test("finding 6: mgr cannot reset admin's password, nor edit, disable or delete a more privileged account", async () => {
      const { token } = await mgrSession();
      const adminId = await userId(ctx.admin);
      const reset = await call(ctx.t.url, 'POST', `/api/v1/users/${adminId}/reset-password`, { token, headers: EN });
      assertRefused(reset, 'PRIVILEGE_EXCEEDED', "mgr resetting admin's password");
      assert.equal(reset.body.data, undefined, 'no generated password is handed out');
      const chosen = await call(ctx.t.url, 'POST', `/api/v1/users/${adminId}/reset-password`, {
        token,
        headers: EN,
        body: { new_password: 'Mallory-Owns-Admin-99' },
      });
      assertRefused(chosen, 'PRIVILEGE_EXCEEDED', "mgr setting admin's password");
      assert.equal(
        (await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'Mallory-Owns-Admin-99' } })).status,
        401,
      );
      await login(ctx.t.url, 'admin', ADMIN_PASSWORD);

      const second = await createUser(ctx.t.url, ctx.admin, ['admin']);
      for (const [method, path, body] of [
        ['PUT', `/api/v1/users/${second.id}`, { full_name: 'Renamed by mgr' }],
        ['PUT', `/api/v1/users/${second.id}`, { is_active: false }],
        ['PUT', `/api/v1/users/${second.id}`, { roles: ['doctor'] }],
        ['DELETE', `/api/v1/users/${second.id}`, undefined],
      ] as const) {
        assertRefused(
          await call(ctx.t.url, method, path, { token, headers: EN, body }),
          'PRIVILEGE_EXCEEDED',
          `mgr ${method} ${JSON.stringify(body)}`,
        );
      }
      const after = await call(ctx.t.url, 'GET', `/api/v1/users/${second.id}`, { token: ctx.admin });
      assert.equal(after.body.data.full_name, `Test ${second.username}`);
      assert.equal(after.body.data.is_active, true);
      assert.deepEqual(after.body.data.roles, ['admin']);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: second.token })).status, 200, "the admin's session survives");
    });

    test('finding 6: an administrator can do all of it', async () => {
      const created = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token: ctx.admin,
        body: { username: `adm_${randomUUID().slice(0, 8)}`, password: USER_PASSWORD, full_name: 'Second admin', role_ids: ['admin'] },
      });
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id as number;
      const reset = await call(ctx.t.url, 'POST', `/api/v1/users/${id}/reset-password`, { token: ctx.admin });
      assert.equal(reset.status, 200);
      await login(ctx.t.url, created.body.data.username, reset.body.data.password);
      const edited = await call(ctx.t.url, 'PUT', `/api/v1/users/${id}`, {
        token: ctx.admin,
        body: { roles: ['mgr'], full_name: 'Now a manager' },
      });
      assert.equal(edited.status, 200, edited.text);
      assert.deepEqual(edited.body.data.roles, ['mgr']);
      assert.equal((await call(ctx.t.url, 'DELETE', `/api/v1/users/${id}`, { token: ctx.admin })).status, 200);
    });

    test('finding 7: the right password from a clean address succeeds after an attacker failed from another', async () => {
      const victim = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const attacker = '127.0.0.2';
      const attempts = [];
      // 12 failures: the attacker's address backs off, and the account passes its ceiling (10).
      for (let i = 0; i < 12; i += 1) attempts.push(await loginFrom(attacker, ctx.t.url, victim.username, `guess-${i}`));
      for (const res of attempts) assert.equal(res.status, 401);
      const attackerRight = await loginFrom(attacker, ctx.t.url, victim.username, USER_PASSWORD);
      assert.equal(attackerRight.status, 401, 'the guessing address is held off even with the right password');
      const shown = await call(ctx.t.url, 'GET', `/api/v1/users/${victim.id}`, { token: ctx.admin });
      assert.equal(shown.body.data.is_locked, true, 'the account as a whole is backing off');

      const started = Date.now();
      const owner = await loginFrom('127.0.0.1', ctx.t.url, victim.username, USER_PASSWORD);
      assert.equal(owner.status, 200, `the owner gets in from a clean address: ${owner.text}`);
      assert.ok(Date.now() - started >= 900, 'after the short delay the account-wide back-off imposes');
      assert.equal((await loginFrom('127.0.0.3', ctx.t.url, victim.username, USER_PASSWORD)).status, 200);
      // The old fixed lock answered 429 to everyone for 15 minutes; the DR face agrees too.
      const dr = await postFrom('127.0.0.4', ctx.t.url, '/dr/api/v1/pub/login', { username: victim.username, password: USER_PASSWORD });
      assert.equal(dr.status, 200, dr.text);
    });

    test('finding 7: backed-off, unknown and wrong answers are identical', async () => {
      const victim = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const bystander = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const source = '127.0.0.5';
      for (let i = 0; i < 8; i += 1) await loginFrom(source, ctx.t.url, victim.username, `guess-${i}`);
      const timed = async (run: () => Promise<ApiResponse>) => {
        const started = process.hrtime.bigint();
        const res = await run();
        return { res, ms: Number(process.hrtime.bigint() - started) / 1e6 };
      };
      const backedOff = await timed(() => loginFrom(source, ctx.t.url, victim.username, USER_PASSWORD));
      const unknown = await timed(() => loginFrom(source, ctx.t.url, `nobody_${randomUUID().slice(0, 8)}`, USER_PASSWORD));
      const wrong = await timed(() => loginFrom(source, ctx.t.url, bystander.username, 'Wrong-Password-123'));
      assert.equal(backedOff.res.status, 401);
      assert.deepEqual(refusalShape(backedOff.res), refusalShape(wrong.res));
      assert.deepEqual(refusalShape(unknown.res), refusalShape(wrong.res));
      assert.equal(wrong.res.body.error.type, 'AuthenticationError');
      assert.equal(wrong.res.headers.get('retry-after'), null);
      // Every path runs one argon2 check, so none answers in a fraction of another's time.
      // Compared on the fastest of interleaved samples: other work on a shared machine only
      // ever adds time, so the minimum is the path's own cost (medians flaked in CI at 0.39×).
      const samples: Record<'backedOff' | 'unknown' | 'wrong', number[]> = { backedOff: [], unknown: [], wrong: [] };
      for (let i = 0; i < 7; i += 1) {
        samples.backedOff.push((await timed(() => loginFrom(source, ctx.t.url, victim.username, USER_PASSWORD))).ms);
        samples.unknown.push((await timed(() => loginFrom(source, ctx.t.url, 'nobody_at_all', USER_PASSWORD))).ms);
        samples.wrong.push((await timed(() => loginFrom(source, ctx.t.url, bystander.username, 'Wrong-Password-123'))).ms);
      }
      const fastest = Object.values(samples).map((xs) => Math.min(...xs));
      assert.ok(Math.min(...fastest) >= 0.4 * Math.max(...fastest), `similar timing: ${JSON.stringify(samples)}`);

      const drBackedOff = await postFrom(source, ctx.t.url, '/dr/api/v1/pub/login', { username: victim.username, password: USER_PASSWORD });
      const drUnknown = await postFrom(source, ctx.t.url, '/dr/api/v1/pub/login', { username: 'nobody_at_all', password: 'x' });
      assert.equal(drBackedOff.status, drUnknown.status);
      assert.equal(drBackedOff.body.code, '0x020005');
      assert.deepEqual(
        { ...drBackedOff.body, data: { ...drBackedOff.body.data, request_id: '' } },
        { ...drUnknown.body, data: { ...drUnknown.body.data, request_id: '' } },
      );
    });

    test('finding 7: pub/users can be switched off', async () => {
      const listed = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/users');
      assert.equal(listed.status, 200);
      assert.ok(listed.body.data.includes('admin'), 'on by default: the console shows the accounts');
      const off = await call(ctx.t.url, 'PUT', '/api/v1/system/configs/auth.public_user_list', {
        token: ctx.admin,
        body: { config_value: false },
      });
      assert.equal(off.status, 200, off.text);
      try {
        const hidden = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/users');
        assert.equal(hidden.status, 200);
        assert.deepEqual(hidden.body.data, [], 'switched off, no account is named');
      } finally {
        await call(ctx.t.url, 'PUT', '/api/v1/system/configs/auth.public_user_list', { token: ctx.admin, body: { config_value: true } });
      }
    });

    test('finding 14: weak passwords are refused by create, change and reset; strong ones accepted', async () => {
      const username = `pw_${randomUUID().slice(0, 8)}`;
      const create = (password: string) =>
        call(ctx.t.url, 'POST', '/api/v1/users', {
          token: ctx.admin,
          body: { username, password, full_name: 'Pass Word', role_ids: ['doctor'] },
        });
      for (const weak of ['password1', 'admin1234', 'Password123', `${username}2025`, '1']) {
        const res = await create(weak);
        assert.equal(res.status, 422, `${weak}: ${res.text}`);
        assert.equal(res.body.error.details[0].field, 'password');
      }
      const created = await create('Quiet-Harbour-Lamp-61');
      assert.equal(created.status, 201, created.text);
      const id = created.body.data.id as number;

      for (const weak of ['password1', 'admin1234', `${username}!!`]) {
        const res = await call(ctx.t.url, 'POST', `/api/v1/users/${id}/reset-password`, { token: ctx.admin, body: { new_password: weak } });
        assert.equal(res.status, 422, `${weak}: ${res.text}`);
        assert.equal(res.body.error.details[0].field, 'new_password');
      }
      const reset = await call(ctx.t.url, 'POST', `/api/v1/users/${id}/reset-password`, {
        token: ctx.admin,
        body: { new_password: 'Violet-Canyon-Drum-27' },
      });
      assert.equal(reset.status, 200);
      const { token } = await login(ctx.t.url, username, 'Violet-Canyon-Drum-27');

      const change = (next: string) =>
        call(ctx.t.url, 'POST', '/api/v1/auth/settings/password', {
          token,
          body: { old_password: 'Violet-Canyon-Drum-27', new_password: next, confirm_new_password: next },
        });
      for (const weak of ['password1', 'admin1234', 'qwertyuiop']) {
        const res = await change(weak);
        assert.equal(res.status, 422, `${weak}: ${res.text}`);
      }
      assert.equal((await login(ctx.t.url, username, 'Violet-Canyon-Drum-27')).body.success, true, 'the old password still works');
      assert.equal((await change('Amber-Glacier-Kite-83')).status, 200);
      await login(ctx.t.url, username, 'Amber-Glacier-Kite-83');
    });
  });
}

describe('finding 14: weak initial passwords from the environment refuse start', () => {
  test('ROENTGEN_ADMIN_PASSWORD=admin and a seed password "1" stop the server with the reason', async () => {
    const env = isolatedEnv('sqlite');
    await assert.rejects(startProcess({ ...env, ROENTGEN_ADMIN_PASSWORD: 'admin' }), (error: Error) => {
      assert.match(error.message, /^exited 1:/);
      assert.match(error.message, /ROENTGEN_ADMIN_PASSWORD is too weak/);
      return true;
    });
    await assert.rejects(startProcess({ ...env, ROENTGEN_SEED_USER_PASSWORD: '1' }), /ROENTGEN_SEED_USER_PASSWORD is too weak/);
    await assert.rejects(startProcess({ ...env, ROENTGEN_ADMIN_PASSWORD: 'admin1234' }), /ROENTGEN_ADMIN_PASSWORD is too weak/);
  });
});

for (const dialect of DIALECTS) {
  test(`finding 6 on ${dialect}: migration 010 gives an existing database's admin role the admin-only permissions, and only it`, async () => {
    const env = isolatedEnv(dialect);
    const db = await openDatabase(loadConfig(env));
    try {
      const migrator = new Migrator({
        db: db.kysely,
        provider: { getMigrations: () => Promise.resolve(migrationsFor(db.dialect)) },
        ...(db.schema ? { migrationTableSchema: db.schema } : {}),
      });
      const before = await migrator.migrateTo('007_job_runner');
      assert.equal(before.error, undefined);
      // A database from before issue 15: roles as seeded then, plus a grant that must not survive.
      const now = new Date().toISOString();
      const role = (name: string) =>
        db.kysely
          .insertInto('roles')
          .values({ name, display_name_en: name, display_name_zh: name, description: '', is_builtin: 1, created_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
      const admin = await role('admin');
      const mgr = await role('mgr');
      await db.kysely
        .insertInto('role_permissions')
        .values([
          { role_id: admin.id, permission: 'user:write' },
          { role_id: mgr.id, permission: 'user:write' },
          { role_id: mgr.id, permission: 'audit:export' },
        ])
        .execute();
      assert.ok((await migrateToLatest(db)).includes('010_least_privilege'));
      const grants = await db.kysely.selectFrom('role_permissions').select(['role_id', 'permission']).execute();
      const of = (id: number) =>
        grants
          .filter((g) => g.role_id === id)
          .map((g) => g.permission)
          .sort();
      assert.deepEqual(of(admin.id), ['audit:export', 'system:security', 'user:admin', 'user:write']);
      assert.deepEqual(of(mgr.id), ['user:write']);
      const backoff = await db.kysely.selectFrom('login_backoff').selectAll().execute();
      assert.deepEqual(backoff, [], 'the back-off table exists');
    } finally {
      await db.close();
      await dropSchema(env.DATABASE_SCHEMA);
      fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
    }
  });
}
