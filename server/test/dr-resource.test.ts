import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, SEED_PASSWORD, call, isDrError, login, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`DR public and settings endpoints on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('software_info reports this server, locales, product and a guest token', async () => {
      const res = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info');
      assert.equal(res.status, 200);
      const d = res.body.data;
      assert.deepEqual(d.language, ['en', 'zh']);
      assert.equal(d.product, 'DROS');
      assert.equal(d.current_locale, 'zh_CN');
      assert.match(d.sn, /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      assert.equal((await call(ctx.t.url, 'GET', '/api/v1/pub/software_info')).body.data.sn, d.sn, 'the serial is stable');
      for (const component of Object.values<{ build: string; desc: string; submodule: string[]; version: string }>(d.server)) {
        assert.match(component.build, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
        assert.ok(component.version.length > 0 && component.desc.length > 0);
      }
      assert.ok(d.server.api.submodule.includes(`node@${process.versions.node}`));
      assert.ok(d.server.api.submodule.some((s: string) => /^fastify@5\./.test(s)));
      const claims = JSON.parse(Buffer.from(d.guest.split('.')[1], 'base64url').toString());
      assert.equal(claims.name, 'guest');
    });

    test('translation modules are served as JavaScript with the sample keys', async () => {
      for (const [locale, file, expected] of [
        ['zh_CN', 'zh.js', '患者管理'],
        ['en_US', 'en.js', 'Patients'],
      ]) {
        const res = await fetch(`${ctx.t.url}/dr/api/v1/pub/trans/${locale}/${file}`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /javascript/);
        const text = await res.text();
        assert.match(text, /^export default \{/);
        const table = JSON.parse(text.replace(/^export default /, '').replace(/;\s*$/, ''));
        assert.equal(table.patient, expected);
        for (const key of [
          'worklistTable.StudyInstanceUID',
          'register.sexNeutered',
          'actionPanel.risSync',
          'workstation.wall',
          'bin.diskCapacity',
        ]) {
          assert.ok(key in table, `${locale} lacks ${key}`);
        }
        assert.equal(Object.keys(table).length, 180);
      }
      for (const path of ['zh_CN/en.js', 'fr_FR/fr.js', 'zh_CN/..%2F..%2Fpackage.json']) {
        const res = await call(ctx.t.url, 'GET', `/dr/api/v1/pub/trans/${path}`);
        assert.equal(res.status, 404, path);
        assert.ok(isDrError(res.body, '0x040004') || isDrError(res.body, '0x010005'), res.text);
      }
    });

    test('language list, console users and quota', async () => {
      const lang = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/language');
      assert.deepEqual(lang.body.data, [
        { language: 'en_US', display: 'English' },
        { language: 'zh_CN', display: '简体中文' },
      ]);
      const users = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/users');
      assert.deepEqual(users.body.data, ['admin', 'mgr', 'service', 'tech']);
      const quota = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/quota');
      assert.deepEqual(quota.body.data, { total: 0, available: 0, online: false, overdue: false });
      await call(ctx.t.url, 'PUT', '/api/v1/system/configs/quota.total', { token: ctx.admin, body: { config_value: 50 } });
      await call(ctx.t.url, 'PUT', '/api/v1/system/configs/quota.used', { token: ctx.admin, body: { config_value: 8 } });
      await call(ctx.t.url, 'PUT', '/api/v1/system/configs/quota.cloud_url', {
        token: ctx.admin,
        body: { config_value: 'https://cloud.example' },
      });
      await new Promise((r) => setTimeout(r, 2100)); // the config cache's lifetime
      const after = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/quota');
      assert.deepEqual(after.body.data, { total: 50, available: 42, online: false, overdue: true });
    });

    test('resource/options by group, localized, unknown group refused', async () => {
      const basic = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/options', { token: ctx.admin, headers: { Language: 'en_US' } });
      assert.deepEqual(basic.body.data, {
        '@type': 'type.googleapis.com/dr.resource.OptionReply',
        option: [
          { text: 'Male', value: 'M' },
          { text: 'Female', value: 'F' },
          { text: 'Other', value: 'O' },
          { text: 'CM', value: 'CM' },
          { text: 'SF', value: 'SF' },
        ],
      });
      const size = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/options?group=patient_size', { token: ctx.admin });
      assert.deepEqual(
        size.body.data.option.map((o: { text: string }) => o.text),
        ['大', '中', '小', '儿童'],
      );
      for (const group of ['sex_full', 'pregnancy_status', 'sex_neutered', 'study_type', 'apr_cbo', 'flag']) {
        const res = await call(ctx.t.url, 'GET', `/dr/api/v1/auth/resource/options?group=${group}`, { token: ctx.admin });
        assert.ok(res.body.data.option.length >= 2, group);
      }
      const bad = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/options?group=nope', { token: ctx.admin });
      assert.equal(bad.status, 404);
      assert.ok(isDrError(bad.body, '0x040003'));
    });

    test('resource/config filters by key prefix; non-operators see public entries only', async () => {
      const all = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/config?uri=security.', { token: ctx.admin });
      assert.equal(all.body.data['@type'], 'type.googleapis.com/dr.resource.ConfigReply');
      assert.ok(all.body.data.config.length >= 3);
      assert.ok(all.body.data.config.every((c: { uri: string }) => c.uri.startsWith('security.')));
      const tech = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      const limited = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/config?uri=security.', { token: tech.token });
      assert.deepEqual(limited.body.data.config, []);
      const general = await call(ctx.t.url, 'GET', '/dr/api/v1/auth/resource/config?uri=system.', { token: tech.token });
      assert.ok(general.body.data.config.some((c: { uri: string }) => c.uri === 'system.language'));
    });

    test('manage/language changes the console language reported by software_info', async () => {
      const bad = await call(ctx.t.url, 'POST', '/api/v1/auth/manage/language', { token: ctx.admin, body: { lang: 'fr_FR' } });
      assert.equal(bad.status, 400);
      assert.ok(isDrError(bad.body, '0x010001'));
      assert.equal(bad.body.data.details[0].field, 'lang');
      const ok = await call(ctx.t.url, 'POST', '/api/v1/auth/manage/language', { token: ctx.admin, body: { lang: 'en_US' } });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body, { code: '0x000000', description: '成功', solution: '', data: {} });
      const info = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info');
      assert.equal(info.body.data.current_locale, 'en_US');
      const tech = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      assert.equal(
        (await call(ctx.t.url, 'POST', '/dr/api/v1/auth/manage/language', { token: tech.token, body: { lang: 'zh_CN' } })).status,
        403,
      );
    });
  });
}
