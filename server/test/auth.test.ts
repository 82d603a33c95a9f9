import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { SignJWT } from 'jose';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  SEED_PASSWORD,
  USER_PASSWORD,
  call,
  createUser,
  isDiagnosisError,
  isDrError,
  login,
  withServer,
} from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`auth on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('diagnosis login returns both tokens, the user, roles and permissions', async () => {
      const res = await call(ctx.t.url, 'POST', '/api/v1/auth/login', {
        body: { username: 'tech', password: SEED_PASSWORD, remember_me: false, captcha: 'ABCD', captcha_key: 'k' },
      });
      assert.equal(res.status, 200);
      const d = res.body.data;
      assert.equal(res.body.success, true);
      assert.equal(d.token_type, 'Bearer');
      assert.equal(d.expires_in, 3600);
      assert.deepEqual(d.user.roles, ['tech']);
      assert.ok(d.user.permissions.includes('study:write'));
      assert.ok(!d.user.permissions.includes('user:write'));
      const [, payload] = d.access_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      assert.equal(claims.name, 'tech');
      assert.equal(typeof claims.id, 'number');
      assert.equal(claims.exp - claims.iat, 3600);
      const [, refreshPayload] = d.refresh_token.split('.');
      const refreshClaims = JSON.parse(Buffer.from(refreshPayload, 'base64url').toString());
      assert.equal(refreshClaims.exp - refreshClaims.iat, 7 * 24 * 3600);
    });

    test('DR pub/login returns token, expire, uid, name, avatar; the token works on both faces', async () => {
      const res = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
        headers: { Product: 'DROS', Source: 'Electron' },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.code, '0x000000');
      const d = res.body.data;
      assert.equal(d.name, 'admin');
      assert.equal(typeof d.uid, 'number');
      assert.equal(d.avatar, '');
      assert.ok(d.expire > Date.now() / 1000);
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: d.token });
      assert.equal(me.status, 200);
      assert.equal(me.body.data.username, 'admin');
      const drRoute = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/options', { token: d.token });
      assert.equal(drRoute.status, 200);
    });

    test('wrong passwords and unknown users get the same refusal', async () => {
      const wrong = await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: 'mgr', password: 'nope' } });
      const unknown = await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: 'nobody_here', password: 'nope' } });
      assert.equal(wrong.status, 401);
      assert.equal(unknown.status, 401);
      assert.equal(wrong.body.message, unknown.body.message);
      const guest = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', { body: { username: 'guest', password: 'anything' } });
      assert.equal(guest.status, 401, 'the guest account never logs in with a password');
      assert.ok(isDrError(guest.body, '0x020005'));
    });

    test('repeated failures back the address off, answered like a wrong password; a reset clears it', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const attempt = (password: string) => call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password } });
      const wrong = [];
      // Back-off starts after 3 failures at 1 s and doubles: after 8 the address waits 32 s.
      for (let i = 0; i < 8; i += 1) wrong.push(await attempt('bad-guess-1'));
      for (const res of wrong) assert.equal(res.status, 401);
      const backedOff = await attempt(USER_PASSWORD);
      assert.equal(backedOff.status, 401, 'during the back-off even the right password is answered as wrong');
      assert.ok(isDiagnosisError(backedOff.body, 401, 'AuthenticationError'));
      assert.equal(backedOff.body.message, wrong[0].body.message);
      assert.equal(backedOff.headers.get('retry-after'), null, 'nothing tells a backed-off account apart');
      // An administrator's reset clears the back-off.
      await call(ctx.t.url, 'POST', `/api/v1/users/${user.id}/reset-password`, {
        token: ctx.admin,
        body: { new_password: 'Another-Strong-Pass-7' },
      });
      assert.equal((await attempt('Another-Strong-Pass-7')).status, 200);
      const audit = await call(ctx.t.url, 'GET', `/api/v1/system/audit-logs?action=auth.login&username=${user.username}&outcome=failure`, {
        token: ctx.admin,
      });
      assert.equal(audit.body.data.pagination.total, 9, 'every wrong password and the backed-off attempt are audited');
    });

    test('refresh rotates: the new pair works, the old refresh token is revoked (and replaying it ends the session)', async () => {
      const session = await login(ctx.t.url, 'mgr', SEED_PASSWORD);
      const first = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(first.status, 200);
      assert.notEqual(first.body.data.access_token, session.token);
      const access = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.token } });
      assert.equal(access.status, 401, 'an access token is not a refresh token');
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: first.body.data.access_token });
      assert.equal(me.status, 200);
      const again = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(again.status, 401);
      assert.equal(again.body.error.type, 'AuthenticationError');
      const after = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: first.body.data.access_token });
      assert.equal(after.status, 401, 'a replayed refresh token revokes the whole session');
    });

    test('logout revokes the access token and the given refresh token', async () => {
      const session = await login(ctx.t.url, 'service', SEED_PASSWORD);
      const out = await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token: session.token, body: { refresh_token: session.refresh } });
      assert.equal(out.status, 200);
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: session.token });
      assert.equal(me.status, 401);
      assert.match(me.body.message, /撤销/);
      const refresh = await call(ctx.t.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: session.refresh } });
      assert.equal(refresh.status, 401);
    });

    test('expired, forged and malformed tokens are refused', async () => {
      const sealed = await ctx.t.server.db.kysely
        .selectFrom('server_secrets')
        .select('value')
        .where('name', '=', 'jwt_secret')
        .executeTakeFirstOrThrow();
      // Sealed at rest (AES-256-GCM under <dataDir>/secret.key, the secret's name as associated data).
      const [iv, tag, body] = sealed.value.replace(/^enc:v1:/, '').split('.') as [string, string, string];
      const key = Buffer.from(fs.readFileSync(path.join(ctx.t.dataDir, 'secret.key'), 'utf8').trim(), 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
        .setAAD(Buffer.from('jwt_secret'))
        .setAuthTag(Buffer.from(tag, 'base64url'));
      const secret = { value: Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8') };
      const past = Math.floor(Date.now() / 1000) - 7200;
      const expired = await new SignJWT({ id: 1, name: 'admin', typ: 'access', ver: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setJti('x')
        .setIssuedAt(past)
        .setExpirationTime(past + 3600)
        .sign(new TextEncoder().encode(secret.value));
      const res = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: expired });
      assert.equal(res.status, 401);
      assert.match(res.body.message, /过期/);
      const forged = await new SignJWT({ id: 1, name: 'admin', typ: 'access', ver: 0 })
        .setProtectedHeader({ alg: 'HS256' })
        .setJti('y')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode('not-the-secret'));
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: forged })).status, 401);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: 'abc.def' })).status, 401);
      const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"id":1,"name":"admin","typ":"access","ver":0}').toString('base64url')}.`;
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: noneAlg })).status, 401);
    });

    test('changing your own password checks old/confirm/strength and voids old tokens', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const second = await login(ctx.t.url, user.username, USER_PASSWORD);
      const body = (old: string, next: string, confirm: string) => ({
        old_password: old,
        new_password: next,
        confirm_new_password: confirm,
      });
      const mismatch = await call(ctx.t.url, 'POST', '/api/v1/auth/settings/password', {
        token: user.token,
        body: body(USER_PASSWORD, 'New-Strong-Pass-17', 'New-Strong-Pass-18'),
      });
      assert.equal(mismatch.status, 422);
      assert.ok(isDrError(mismatch.body, '0x020009'));
      const wrongOld = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/settings/password', {
        token: user.token,
        body: body('Nope12345', 'New-Strong-Pass-17', 'New-Strong-Pass-17'),
      });
      assert.equal(wrongOld.status, 422);
      assert.ok(isDrError(wrongOld.body, '0x02000A'));
      const weak = await call(ctx.t.url, 'POST', '/api/v1/auth/settings/password', {
        token: user.token,
        body: body(USER_PASSWORD, 'short', 'short'),
      });
      assert.equal(weak.status, 422);
      const changed = await call(ctx.t.url, 'POST', '/api/v1/auth/settings/password', {
        token: user.token,
        body: body(USER_PASSWORD, 'New-Strong-Pass-17', 'New-Strong-Pass-17'),
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.body.data, {});
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: second.token })).status, 401, 'other sessions end');
      assert.equal(
        (await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password: USER_PASSWORD } })).status,
        401,
      );
      assert.equal(
        (await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password: 'New-Strong-Pass-17' } })).status,
        200,
      );
    });

    test('the guest token from software_info works only on guest routes', async () => {
      const info = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info');
      const guest = info.body.data.guest;
      assert.ok(guest.length > 20);
      const me = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: guest });
      assert.equal(me.status, 200);
      assert.deepEqual(me.body.data.roles, ['guest']);
      const users = await call(ctx.t.url, 'GET', '/api/v1/users', { token: guest });
      assert.equal(users.status, 403);
      assert.equal(users.body.error.type, 'PermissionError');
      const lang = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/manage/language', { token: guest, body: { lang: 'en_US' } });
      assert.equal(lang.status, 403);
      assert.ok(isDrError(lang.body, '0x02000D'));
      const pw = await call(ctx.t.url, 'POST', '/api/v1/auth/settings/password', {
        token: guest,
        body: { old_password: 'a', new_password: 'b', confirm_new_password: 'b' },
      });
      assert.equal(pw.status, 403);
    });

    test('a disabled account stops working at once', async () => {
      const user = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const off = await call(ctx.t.url, 'PUT', `/api/v1/users/${user.id}`, { token: ctx.admin, body: { is_active: false } });
      assert.equal(off.status, 200);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: user.token })).status, 401);
      const relogin = await call(ctx.t.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password: USER_PASSWORD } });
      assert.equal(relogin.status, 403);
      assert.equal(relogin.body.error.type, 'AccountDisabledError');
    });
  });
}
