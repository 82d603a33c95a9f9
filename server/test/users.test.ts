import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  SEED_PASSWORD,
  USER_PASSWORD,
  call,
  createUser,
  isDiagnosisError,
  login,
  withServer,
} from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`users on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dept = `放射科-${randomUUID().slice(0, 6)}`;

    const newUser = (over: Record<string, unknown> = {}) => ({
      username: `doc_${randomUUID().slice(0, 8)}`,
      email: `${randomUUID().slice(0, 8)}@hospital.com`,
      password: USER_PASSWORD,
      full_name: '张医生',
      phone: '13812345678',
      department_id: dept,
      job_title: '主治医师',
      role_ids: ['role_doctor'],
      ...over,
    });

    test('create with the spec sample body, then get it back', async () => {
      const body = newUser();
      const res = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body });
      assert.equal(res.status, 201);
      assert.equal(res.body.code, 201);
      const u = res.body.data;
      assert.equal(u.username, body.username);
      assert.equal(u.department, dept);
      assert.deepEqual(u.roles, ['doctor']);
      assert.equal(u.phone, '13812345678', 'an administrator sees the full phone number');
      assert.equal(u.is_active, true);
      assert.ok(!('password_hash' in u) && !('password' in u));
      const got = await call(ctx.t.url, 'GET', `/api/v1/users/${u.id}`, { token: ctx.admin });
      assert.deepEqual(got.body.data, u);
      const mine = await login(ctx.t.url, body.username, body.password);
      assert.deepEqual(mine.body.data.user.roles, ['doctor']);
    });

    test('duplicates, unknown roles and weak passwords are refused without writing', async () => {
      const body = newUser();
      assert.equal((await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body })).status, 201);
      const dupName = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: { ...newUser(), username: body.username } });
      assert.equal(dupName.status, 409);
      assert.ok(isDiagnosisError(dupName.body, 409, 'ConflictError'));
      const dupMail = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: { ...newUser(), email: body.email } });
      assert.equal(dupMail.status, 409);
      const badRole = newUser({ role_ids: ['role_wizard'] });
      const r = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: badRole });
      assert.equal(r.status, 422);
      assert.equal(r.body.error.details[0].field, 'role_ids');
      const guestRole = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser({ role_ids: ['guest'] }) });
      assert.equal(guestRole.status, 422, 'nobody else may hold the guest role');
      const weak = newUser({ password: 'abc' });
      assert.equal((await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: weak })).status, 422);
      for (const name of [badRole.username, weak.username]) {
        const list = await call(ctx.t.url, 'GET', `/api/v1/users?search=${name}`, { token: ctx.admin });
        assert.equal(list.body.data.pagination.total, 0);
      }
      const badName = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser({ username: 'has space' }) });
      assert.equal(badName.status, 400);
    });

    test('list filters by search, department, role and is_active, with pagination', async () => {
      const created = [];
      for (let i = 0; i < 5; i += 1) {
        const res = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser({ full_name: `分页医生${i}` }) });
        created.push(res.body.data);
      }
      await call(ctx.t.url, 'PUT', `/api/v1/users/${created[0].id}`, { token: ctx.admin, body: { is_active: false } });
      const all = await call(ctx.t.url, 'GET', `/api/v1/users?department=${encodeURIComponent(dept)}&size=100`, { token: ctx.admin });
      const page = await call(
        ctx.t.url,
        'GET',
        `/api/v1/users?search=${encodeURIComponent('分页医生')}&size=2&page=2&sort=full_name&order=asc`,
        { token: ctx.admin },
      );
      assert.equal(page.status, 200);
      assert.deepEqual(page.body.data.pagination, { page: 2, size: 2, total: 5, pages: 3, has_next: true, has_prev: true });
      assert.deepEqual(
        page.body.data.items.map((u: { full_name: string }) => u.full_name),
        ['分页医生2', '分页医生3'],
      );
      assert.ok(all.body.data.pagination.total >= 5);
      const inactive = await call(ctx.t.url, 'GET', `/api/v1/users?department=${encodeURIComponent(dept)}&is_active=false`, {
        token: ctx.admin,
      });
      assert.deepEqual(
        inactive.body.data.items.map((u: { id: number }) => u.id),
        [created[0].id],
      );
      const doctors = await call(ctx.t.url, 'GET', '/api/v1/users?role=doctor&size=100', { token: ctx.admin });
      assert.ok(doctors.body.data.items.every((u: { roles: string[] }) => u.roles.includes('doctor')));
      const techs = await call(ctx.t.url, 'GET', '/api/v1/users?role=role_tech', { token: ctx.admin });
      assert.deepEqual(
        techs.body.data.items.map((u: { username: string }) => u.username),
        ['tech'],
      );
      const byMail = await call(ctx.t.url, 'GET', `/api/v1/users?search=${created[1].email.slice(0, 8)}`, { token: ctx.admin });
      assert.equal(byMail.body.data.items[0].id, created[1].id);
      const viaFilter = await call(ctx.t.url, 'GET', `/api/v1/users?filter=${encodeURIComponent(`department:${dept},is_active:false`)}`, {
        token: ctx.admin,
      });
      assert.deepEqual(
        viaFilter.body.data.items.map((u: { id: number }) => u.id),
        [created[0].id],
      );
      const badFilter = await call(ctx.t.url, 'GET', '/api/v1/users?filter=password:x', { token: ctx.admin });
      assert.equal(badFilter.status, 400);
      assert.equal(badFilter.body.error.details[0].field, 'filter');
      const wildcard = await call(ctx.t.url, 'GET', '/api/v1/users?search=%25', { token: ctx.admin });
      assert.equal(wildcard.body.data.pagination.total, 0, 'LIKE wildcards in a search are literal');
    });

    test('phone numbers are masked for viewers without user:write', async () => {
      const created = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser() });
      const manager = await login(ctx.t.url, 'mgr', SEED_PASSWORD);
      assert.equal(
        (await call(ctx.t.url, 'GET', `/api/v1/users/${created.body.data.id}`, { token: manager.token })).body.data.phone,
        '13812345678',
      );
      // No seeded role reads users without managing them; make one (there is no role-editing API yet).
      const db = ctx.t.server.db.kysely;
      const roleName = `auditor_${randomUUID().slice(0, 6)}`;
      const role = await db
        .insertInto('roles')
        .values({
          name: roleName,
          display_name_en: 'Auditor',
          display_name_zh: '审计',
          description: '',
          is_builtin: 0,
          created_at: new Date().toISOString(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.insertInto('role_permissions').values({ role_id: role.id, permission: 'user:read' }).execute();
      const reader = await createUser(ctx.t.url, ctx.admin, [roleName]);
      const list = await call(ctx.t.url, 'GET', `/api/v1/users?search=${created.body.data.username}`, { token: reader.token });
      assert.equal(list.body.data.items[0].phone, '138****5678');
      const one = await call(ctx.t.url, 'GET', `/api/v1/users/${created.body.data.id}`, { token: reader.token });
      assert.equal(one.body.data.phone, '138****5678');
      const doctor = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/users', { token: doctor.token })).status, 403);
    });

    test('update changes fields and roles; unknown users 404', async () => {
      const created = (await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser() })).body.data;
      const session = await login(ctx.t.url, created.username, USER_PASSWORD);
      const res = await call(ctx.t.url, 'PUT', `/api/v1/users/${created.id}`, {
        token: ctx.admin,
        body: { full_name: '李医生', role_ids: ['tech', 'doctor'], phone: null },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.full_name, '李医生');
      assert.deepEqual(res.body.data.roles, ['doctor', 'tech']);
      assert.equal(res.body.data.phone, null);
      assert.equal(
        (await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: session.token })).status,
        401,
        'changed roles need a new login',
      );
      assert.equal((await call(ctx.t.url, 'PUT', '/api/v1/users/999999', { token: ctx.admin, body: { full_name: 'x' } })).status, 404);
      assert.equal((await call(ctx.t.url, 'PUT', `/api/v1/users/${created.id}`, { token: ctx.admin, body: {} })).status, 400);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/users/abc', { token: ctx.admin })).status, 400);
    });

    test('delete frees the name, keeps the audit trail, and protects self, ctx.admin and the last administrator', async () => {
      const created = (await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser() })).body.data;
      const del = await call(ctx.t.url, 'DELETE', `/api/v1/users/${created.id}`, { token: ctx.admin });
      assert.equal(del.status, 200);
      assert.equal((await call(ctx.t.url, 'GET', `/api/v1/users/${created.id}`, { token: ctx.admin })).status, 404);
      assert.equal((await call(ctx.t.url, 'DELETE', `/api/v1/users/${created.id}`, { token: ctx.admin })).status, 404);
      const again = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token: ctx.admin,
        body: newUser({ username: created.username, email: created.email }),
      });
      assert.equal(again.status, 201, 'a deleted user name can be reused');
      const audit = await call(ctx.t.url, 'GET', `/api/v1/system/audit-logs?action=user.delete&resource_id=${created.id}`, {
        token: ctx.admin,
      });
      assert.equal(audit.body.data.items[0].username, 'admin');

      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: ctx.admin });
      const self = await call(ctx.t.url, 'DELETE', `/api/v1/users/${me.body.data.id}`, { token: ctx.admin });
      assert.equal(self.status, 409);
      const second = await createUser(ctx.t.url, ctx.admin, ['admin']);
      assert.equal(
        (await call(ctx.t.url, 'DELETE', `/api/v1/users/${me.body.data.id}`, { token: second.token })).status,
        409,
        'built-in ctx.admin stays',
      );
      const demote = await call(ctx.t.url, 'PUT', `/api/v1/users/${me.body.data.id}`, {
        token: second.token,
        body: { role_ids: ['doctor'] },
      });
      assert.equal(demote.status, 200, 'another ctx.admin remains');
      const adminAgain = await call(ctx.t.url, 'PUT', `/api/v1/users/${me.body.data.id}`, {
        token: second.token,
        body: { role_ids: ['admin'] },
      });
      assert.equal(adminAgain.status, 200);
      ctx.admin = (await login(ctx.t.url, 'admin', ADMIN_PASSWORD)).token;
      const selfDisable = await call(ctx.t.url, 'PUT', `/api/v1/users/${second.id}`, {
        token: (await login(ctx.t.url, second.username, USER_PASSWORD)).token,
        body: { is_active: false },
      });
      assert.equal(selfDisable.status, 409);
      assert.equal((await call(ctx.t.url, 'DELETE', `/api/v1/users/${second.id}`, { token: ctx.admin })).status, 200);
      const last = await call(ctx.t.url, 'PUT', `/api/v1/users/${me.body.data.id}`, { token: ctx.admin, body: { role_ids: ['doctor'] } });
      assert.equal(last.status, 403, 'nobody changes their own roles (so the last administrator cannot demote itself)');
      assert.equal(last.body.error.type, 'PermissionError');
    });

    test('reset-password generates a password shown once, or sets the given one', async () => {
      const created = (await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, body: newUser() })).body.data;
      const gen = await call(ctx.t.url, 'POST', `/api/v1/users/${created.id}/reset-password`, { token: ctx.admin });
      assert.equal(gen.status, 200);
      const password = gen.body.data.password;
      assert.ok(typeof password === 'string' && password.length >= 12);
      await login(ctx.t.url, created.username, password);
      const given = await call(ctx.t.url, 'POST', `/api/v1/users/${created.id}/reset-password`, {
        token: ctx.admin,
        body: { new_password: 'Chosen-Reset-Pass-42' },
      });
      assert.deepEqual(given.body.data, {});
      await login(ctx.t.url, created.username, 'Chosen-Reset-Pass-42');
      const weak = await call(ctx.t.url, 'POST', `/api/v1/users/${created.id}/reset-password`, {
        token: ctx.admin,
        body: { new_password: 'weak' },
      });
      assert.equal(weak.status, 422);
    });

    test('roles endpoint lists the seeded roles and every permission', async () => {
      const res = await call(ctx.t.url, 'GET', '/api/v1/roles', { token: ctx.admin, headers: { Language: 'en_US' } });
      assert.equal(res.status, 200);
      const names = res.body.data.roles.map((r: { name: string }) => r.name);
      for (const role of ['admin', 'mgr', 'tech', 'service', 'doctor', 'guest']) assert.ok(names.includes(role));
      const adminRole = res.body.data.roles.find((r: { name: string }) => r.name === 'admin');
      assert.equal(adminRole.permissions.length, res.body.data.permissions.length);
    });
  });
}
