import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { storeDx } from './dicom-helpers.js';
import { ADMIN_PASSWORD, DIALECTS, call, isDrError, login, withServer } from './helpers.js';

/** The spec's own field and action names, accepted beside ours (issue 16, section 1). */
for (const dialect of DIALECTS) {
  describe(`spec names accepted on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/${path}`, { token: ctx.admin, body, headers: { Product: 'DROS' } });
    const register = async () => {
      const res = await dr('POST', 'auth/study', {
        accession_number: 'ACC1',
        patient_id: `PN${Date.now()}${Math.random().toString(36).slice(2, 6)}`,
        patient_name: 'Buddy',
        patient_size: 'Medium',
        patient_age: '5Y',
        patient_dob: '2020-06-10T03:12:36Z',
        patient_type: 'Human',
        modality: 'DX',
        study_type: 'Emergency',
        views: [{ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: '' }],
      });
      assert.equal(res.status, 200, res.text);
      return res.body.data as { study_id: string; series: { images: { sop_instance_uid: string }[] }[] };
    };
    const portraitOf = async (studyId: string) => (await dr('GET', `auth/study/${studyId}`)).body.data.portrait_file as string;

    test('portrait: the study in instance_uid (the spec), as an image of it, or in study_id (ours); neither is a 400', async () => {
      const photo = (
        await sharp({ create: { width: 20, height: 10, channels: 3, background: '#406080' } })
          .png()
          .toBuffer()
      ).toString('base64');

      const bySpec = await register();
      const spec = await dr('POST', 'auth/study/portrait', { instance_uid: bySpec.study_id, data: photo });
      assert.equal(spec.status, 200, spec.text);
      assert.equal(spec.body.data['@type'], 'type.googleapis.com/dr.task.DcmPath');
      assert.equal(await portraitOf(bySpec.study_id), spec.body.data.path, 'stored as the portrait of the study named by instance_uid');

      const byImage = await register();
      const image = byImage.series[0].images[0].sop_instance_uid;
      const viaImage = await dr('POST', 'auth/study/portrait', { instance_uid: image, data: photo });
      assert.equal(viaImage.status, 200, viaImage.text);
      assert.equal(await portraitOf(byImage.study_id), viaImage.body.data.path, 'an image uid names its study');

      const byAlias = await register();
      const alias = await dr('POST', 'auth/study/portrait', { study_id: byAlias.study_id, data: photo });
      assert.equal(alias.status, 200, alias.text);
      assert.equal(await portraitOf(byAlias.study_id), alias.body.data.path);

      const unknown = await dr('POST', 'auth/study/portrait', { instance_uid: '999999999999998', data: photo });
      assert.equal(unknown.status, 404, unknown.text);
      assert.ok(isDrError(unknown.body, '0x060001'), unknown.text);
      const neither = await dr('POST', 'auth/study/portrait', { data: photo });
      assert.equal(neither.status, 400, neither.text);
      assert.ok(isDrError(neither.body, '0x010001'), neither.text);
      assert.ok(neither.text.includes('instance_uid'), neither.text);
    });

    test('audit-logs: action=login (the spec) finds logins, create/update/delete find their writes, exact names still work', async () => {
      await login(ctx.t.url, 'admin', ADMIN_PASSWORD);
      const study = await register();
      await dr('PUT', `auth/study/${study.study_id}/lock`, { lock: 'Locked' });
      await dr('PUT', `auth/study/${study.study_id}/lock`, { lock: 'Unlocked' });
      await storeDx(ctx.t, study.series[0].images[0].sop_instance_uid);
      await dr('DELETE', 'auth/study', [study.study_id]);
      const logs = async (query: string) => {
        const res = await call(ctx.t.url, 'GET', `/api/v1/system/audit-logs?size=100&${query}`, { token: ctx.admin });
        assert.equal(res.status, 200, res.text);
        return res.body.data.items as { action: string; user_id: number | null }[];
      };
      const me = (await call(ctx.t.url, 'GET', '/api/v1/auth/me', { token: ctx.admin })).body.data;

      const logins = await logs(`action=login&user_id=${me.id}&date_start=2025-09-01`);
      assert.ok(logins.length >= 2, 'both logins of the admin are found by the spec example');
      assert.deepEqual([...new Set(logins.map((r) => r.action))], ['auth.login']);
      const creates = await logs('action=create');
      assert.ok(
        creates.some((r) => r.action === 'study.register'),
        JSON.stringify(creates.map((r) => r.action)),
      );
      assert.ok(creates.every((r) => /\.(create|register|add|copy|import_mwl|portrait|post_proc|save_as)$|^POST \//.test(r.action)));
      const updates = await logs('action=UPDATE');
      assert.ok(updates.some((r) => r.action === 'study.lock'));
      const deletes = await logs('action=delete');
      assert.ok(deletes.some((r) => r.action === 'study.delete'));
      assert.ok(!deletes.some((r) => r.action === 'auth.login'));
      assert.deepEqual([...new Set((await logs('action=auth.login')).map((r) => r.action))], ['auth.login'], 'our names match exactly');
      assert.deepEqual(await logs('action=no.such.action'), []);
    });
  });
}
