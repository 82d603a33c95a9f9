import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, SEED_PASSWORD, call, createUser, isDiagnosisError, login, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`system endpoints on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('configs list with category/is_public filters and typed values', async () => {
      const all = await call(ctx.t.url, 'GET', '/api/v1/system/configs', { token: ctx.admin });
      assert.equal(all.status, 200);
      const upload = all.body.data.find((c: { config_key: string }) => c.config_key === 'upload.max_file_size');
      assert.deepEqual(
        { ...upload, updated_at: undefined },
        {
          config_key: 'upload.max_file_size',
          config_value: '104857600',
          config_type: 'number',
          category: 'upload',
          description: 'Largest uploaded file (bytes)',
          is_public: true,
          updated_at: undefined,
          updated_by: null,
        },
      );
      const general = await call(ctx.t.url, 'GET', '/api/v1/system/configs?category=general&is_public=true', { token: ctx.admin });
      assert.ok(general.body.data.length >= 2);
      assert.ok(general.body.data.every((c: { category: string; is_public: boolean }) => c.category === 'general' && c.is_public));
    });

    test('config updates are type-checked; bad values change nothing', async () => {
      const put = (key: string, value: unknown) =>
        call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });
      for (const [key, value] of [
        ['upload.max_file_size', 'abc'],
        ['upload.max_file_size', 1.5],
        ['upload.max_file_size', -1],
        ['privacy.mask_personal_data', 'maybe'],
        ['system.language', 'fr_FR'],
        ['system.name', 42],
      ] as const) {
        const res = await put(key, value);
        assert.equal(res.status, 422, `${key}=${String(value)}: ${res.text}`);
        assert.ok(isDiagnosisError(res.body, 422, 'ValidationError'));
        assert.equal(res.body.error.details[0].field, 'config_value');
      }
      const unchanged = await call(ctx.t.url, 'GET', '/api/v1/system/configs?category=upload', { token: ctx.admin });
      const maxFileSize = (unchanged.body.data as { config_key: string; config_value: string }[]).find(
        (c) => c.config_key === 'upload.max_file_size',
      );
      assert.equal(maxFileSize?.config_value, '104857600');
      const ok = await put('upload.max_file_size', '52428800');
      assert.equal(ok.status, 200);
      assert.equal(ok.body.data.config_value, '52428800');
      assert.equal(typeof ok.body.data.updated_by, 'number');
      assert.equal((await put('privacy.mask_personal_data', false)).body.data.config_value, 'false');
      assert.equal((await put('no.such.key', 'x')).status, 404);
      const tech = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      assert.equal(
        (await call(ctx.t.url, 'PUT', '/api/v1/system/configs/system.name', { token: tech.token, body: { config_value: 'x' } })).status,
        403,
      );
    });

    test('stats are real counts that move when users are added', async () => {
      const before = await call(ctx.t.url, 'GET', '/api/v1/system/stats?period=today', { token: ctx.admin });
      assert.equal(before.status, 200);
      assert.equal(before.body.data.period, 'today');
      assert.match(before.body.data.date, /^\d{4}-\d{2}-\d{2}$/);
      const users = before.body.data.stats.users;
      await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const afterStats = await call(ctx.t.url, 'GET', '/api/v1/system/stats?period=week', { token: ctx.admin });
      assert.equal(afterStats.body.data.stats.users.total, (users.total as number) + 1);
      assert.ok(afterStats.body.data.stats.logins.successful >= 2);
      const storage = afterStats.body.data.stats.storage;
      assert.ok(storage.total_size > storage.used_size && storage.usage_rate > 0 && storage.usage_rate < 1);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/system/stats?period=decade', { token: ctx.admin })).status, 400);
    });

    test('audit log records writes and logins with user, source and request id; filters and paging work', async () => {
      await call(ctx.t.url, 'PUT', '/api/v1/system/configs/system.name', {
        token: ctx.admin,
        body: { config_value: '影像中心' },
        headers: { 'X-Request-ID': 'audit-probe-1', Source: 'Electron' },
      });
      const found = await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs?request_id=audit-probe-1', { token: ctx.admin });
      assert.equal(found.status, 200);
      const entry = found.body.data.items[0];
      assert.equal(entry.action, 'system.config_update');
      assert.equal(entry.username, 'admin');
      assert.equal(entry.source, 'Electron');
      assert.equal(entry.outcome, 'success');
      assert.equal(entry.resource_id, 'system.name');
      assert.deepEqual(entry.detail, { value: '影像中心' });
      await call(ctx.t.url, 'POST', '/dr/api/v1/pub/login', {
        body: { username: 'admin', password: 'wrong' },
        headers: { Source: 'Android' },
      });
      const failures = await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs?action=auth.login&outcome=failure&source=Android', {
        token: ctx.admin,
      });
      assert.ok(failures.body.data.items.length >= 1);
      assert.equal(failures.body.data.items[0].username, 'admin');
      const future = await call(
        ctx.t.url,
        'GET',
        `/api/v1/system/audit-logs?date_start=${encodeURIComponent('2999-01-01T00:00:00+08:00')}`,
        { token: ctx.admin },
      );
      assert.equal(future.body.data.pagination.total, 0);
      const today = await call(ctx.t.url, 'GET', `/api/v1/system/audit-logs?date_start=${new Date().toISOString().slice(0, 10)}&size=1`, {
        token: ctx.admin,
      });
      assert.ok(today.body.data.pagination.total >= 3);
      assert.equal(today.body.data.items.length, 1);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs?date_start=yesterday', { token: ctx.admin })).status, 400);
      const doctor = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs', { token: doctor.token })).status, 403);
    });

    test('health probes database, storage, MQTT and the job queue; details only for operators', async () => {
      const anon = await call(ctx.t.url, 'GET', '/api/v1/system/health');
      assert.equal(anon.status, 200);
      assert.deepEqual(Object.keys(anon.body.data).sort(), ['status', 'timestamp']);
      const full = await call(ctx.t.url, 'GET', '/api/v1/system/health', { token: ctx.admin });
      const d = full.body.data;
      assert.ok(['healthy', 'degraded'].includes(d.status));
      assert.equal(d.services.database.status, 'healthy');
      assert.equal(d.services.database.dialect, dialect);
      assert.equal(typeof d.services.database.response_time, 'number');
      assert.ok(d.services.storage.available_bytes > 0);
      assert.match(d.services.storage.available_space, /^\d+(\.\d)?(B|KB|MB|GB|TB|PB)$/);
      assert.equal(d.services.mqtt.status, 'healthy');
      assert.equal(d.services.mqtt.broker, 'embedded');
      assert.equal(d.services.job_queue.queue_size, 0);
      // A job stuck in "running" past its lease shows up as a degraded queue.
      const now = new Date().toISOString();
      await ctx.t.server.db.kysely
        .insertInto('jobs')
        .values({
          queue: 'probe',
          payload: '{}',
          state: 'running',
          attempts: 1,
          run_at: now,
          locked_by: 'dead-worker',
          locked_until: new Date(Date.now() - 60_000).toISOString(),
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      const degraded = await call(ctx.t.url, 'GET', '/api/v1/system/health', { token: ctx.admin });
      assert.equal(degraded.body.data.services.job_queue.stale_running, 1);
      assert.equal(degraded.body.data.status, 'degraded');
      await ctx.t.server.db.kysely.deleteFrom('jobs').where('queue', '=', 'probe').execute();
    });
  });

  describe(`rate limiting on ${dialect}`, () => {
    // The admin login in withServer spends one of the eight requests of this address, not of tech's.
    const ctx = withServer(dialect, { RATE_LIMIT_PER_MINUTE: '8' });

    test('the limit is per user and answers 429 in the envelope', async () => {
      const a = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      const b = await login(ctx.t.url, 'mgr', SEED_PASSWORD);
      let limited;
      for (let i = 0; i < 10 && !limited; i += 1) {
        const res = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: a.token });
        if (res.status === 429) limited = res;
      }
      assert.ok(limited, 'tech was never limited');
      assert.ok(isDiagnosisError(limited.body, 429, 'RateLimitError'), limited.text);
      const dr = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/options', { token: a.token });
      assert.equal(dr.status, 429);
      assert.equal(dr.body.code, '0x0F0001');
      const other = await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: b.token });
      assert.equal(other.status, 200, 'another user has their own budget');
    });
  });
}
