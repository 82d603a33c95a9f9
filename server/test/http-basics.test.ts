import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN_PASSWORD, DIALECTS, call, isDiagnosisError, isDrError, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`HTTP basics on ${dialect}`, () => {
    const ctx = withServer(dialect, { BODY_LIMIT_BYTES: '4096' });

    test('unknown routes 404 in the envelope of their face', async () => {
      const diag = await call(ctx.t.url, 'GET', '/api/v1/nonexistent');
      assert.equal(diag.status, 404);
      assert.ok(isDiagnosisError(diag.body, 404, 'NotFoundError'), diag.text);
      for (const path of ['/dr/api/v1/nonexistent', '/api/v1/pub/nonexistent', '/api/v1/auth/protocol/nothing']) {
        const dr = await call(ctx.t.url, 'GET', path);
        assert.equal(dr.status, 404);
        assert.ok(isDrError(dr.body, '0x010005'), `${path}: ${dr.text}`);
      }
    });

    test('DR routes answer under /dr/api/v1 and /api/v1 alike', async () => {
      const a = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/language');
      const b = await call(ctx.t.url, 'GET', '/api/v1/pub/language');
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, b.body);
      assert.equal(a.body.code, '0x000000');
    });

    test('X-Request-ID is honoured, echoed in header and envelope; a bad one is replaced', async () => {
      const res = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: ctx.admin, headers: { 'X-Request-ID': 'abc-123' } });
      assert.equal(res.headers.get('x-request-id'), 'abc-123');
      assert.equal(res.body.request_id, 'abc-123');
      const bad = await call(ctx.t.url, 'GET', '/api/v1/auth/me', {
        token: ctx.admin,
        headers: { 'X-Request-ID': `${'x'.repeat(200)}<script>` },
      });
      assert.match(bad.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
      const none = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: ctx.admin });
      assert.equal(none.body.request_id, none.headers.get('x-request-id'));
    });

    test('security headers from the spec are on every response, errors included', async () => {
      for (const res of [await call(ctx.t.url, 'GET', '/api/v1/system/health'), await call(ctx.t.url, 'GET', '/api/v1/missing')]) {
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
        assert.equal(res.headers.get('x-xss-protection'), '1; mode=block');
        // HSTS only over TLS (server/test/security/edges.test.ts covers HTTPS).
        assert.equal(res.headers.get('strict-transport-security'), null);
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      }
    });

    test('Language header localizes messages; the default is zh_CN', async () => {
      const zh = await call(ctx.t.url, 'GET', '/api/v1/missing');
      assert.match(zh.body.message, /接口不存在/);
      const en = await call(ctx.t.url, 'GET', '/api/v1/missing', { headers: { Language: 'en_US' } });
      assert.match(en.body.message, /No such API endpoint/);
      const drEn = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', {
        body: { username: 'admin', password: 'wrong' },
        headers: { Language: 'en_US' },
      });
      assert.equal(drEn.body.description, 'Wrong username or password');
      assert.ok(drEn.body.solution.length > 0);
    });

    test('malformed JSON is a 400 in the right envelope, nothing written', async () => {
      const before = await call(ctx.t.url, 'GET', '/api/v1/users?size=100', { token: ctx.admin });
      const diag = await call(ctx.t.url, 'POST', '/api/v1/users', { token: ctx.admin, rawBody: '{"username": "x",' });
      assert.equal(diag.status, 400);
      assert.ok(isDiagnosisError(diag.body, 400, 'ValidationError'), diag.text);
      const dr = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', { rawBody: '{nope' });
      assert.equal(dr.status, 400);
      assert.ok(isDrError(dr.body, '0x010002'), dr.text);
      const afterList = await call(ctx.t.url, 'GET', '/api/v1/users?size=100', { token: ctx.admin });
      assert.equal(afterList.body.data.pagination.total, before.body.data.pagination.total);
    });

    test('wrong types and missing fields list the offending fields', async () => {
      const res = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token: ctx.admin,
        body: { username: 'ok_name', password: 12345, full_name: 7, email: 'not-an-email' },
      });
      assert.equal(res.status, 400);
      const fields = res.body.error.details.map((d: { field: string }) => d.field).sort();
      assert.deepEqual(fields, ['email', 'full_name', 'password']);
      const missing = await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', { body: { username: 'admin' } });
      assert.equal(missing.status, 400);
      assert.deepEqual(
        missing.body.data.details.map((d: { field: string }) => d.field),
        ['password'],
      );
      const numericString = await call(ctx.t.url, 'POST', '/api/v1/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD, remember_me: 'yes' },
      });
      assert.equal(numericString.status, 400, 'JSON bodies are not coerced');
    });

    test('query parameters are validated too', async () => {
      for (const q of ['page=0', 'size=101', 'size=abc', 'is_active=maybe', 'sort=password_hash']) {
        const res = await call(ctx.t.url, 'GET', `/api/v1/users?${q}`, { token: ctx.admin });
        assert.equal(res.status, 400, q);
        assert.ok(isDiagnosisError(res.body, 400, 'ValidationError'), q);
      }
    });

    test('oversized bodies are refused with 413 and nothing written', async () => {
      const res = await call(ctx.t.url, 'POST', '/api/v1/users', {
        token: ctx.admin,
        body: { username: 'big_one', password: 'Password123', full_name: 'x'.repeat(10_000) },
      });
      assert.equal(res.status, 413);
      assert.ok(isDiagnosisError(res.body, 413, 'PayloadTooLargeError'), res.text);
      const list = await call(ctx.t.url, 'GET', '/api/v1/users?search=big_one', { token: ctx.admin });
      assert.equal(list.body.data.pagination.total, 0);
    });

    test('unsupported content types are refused with 415', async () => {
      const res = await call(ctx.t.url, 'POST', '/api/v1/auth/login', {
        rawBody: 'username=admin',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.status, 415);
      assert.ok(isDiagnosisError(res.body, 415), res.text);
    });

    test('OpenAPI document lists every route with a schema', async () => {
      const res = await call(ctx.t.url, 'GET', '/docs/json');
      assert.equal(res.status, 200);
      const paths = Object.keys(res.body.paths);
      for (const p of [
        '/api/v1/auth/login',
        '/api/v1/users/{user_id}',
        '/dr/api/v1/pub/login',
        '/api/v1/pub/software_info',
        '/api/v1/system/health',
      ]) {
        assert.ok(paths.includes(p), `missing ${p}`);
      }
      const ui = await fetch(`${ctx.t.url}/docs`);
      assert.equal(ui.status, 200);
    });
  });
}
