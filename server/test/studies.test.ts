import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FileBlobStore } from '../src/storage/blob-store.js';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, SEED_PASSWORD, call, isDrError, login, sampleStudy, withServer } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`study registration and worklist on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown, token?: string, headers?: Record<string, string>) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body, headers });
    const register = async (over: Record<string, unknown> = {}, headers?: Record<string, string>) => {
      const res = await dr('POST', 'study', sampleStudy(over), undefined, headers);
      assert.equal(res.status, 200, res.text);
      return res.body.data;
    };

    test('the sample registration creates study, series and images as the spec shows', async () => {
      const s = await register();
      assert.equal(s['@type'], 'type.googleapis.com/dr.study.Study');
      assert.match(s.study_id, /^\d{15}$/);
      assert.match(s.study_instance_uid, /^2\.25\.\d+$/);
      assert.equal(s.specific_character_set, 'ISO_IR 192');
      assert.equal(s.study_status, 'Arrived');
      assert.equal(s.study_lock, 'Unlocked');
      assert.equal(s.is_anaesthesia, true);
      assert.equal(s.operator_name, 'OP987');
      assert.equal(s.product, 'DROS');
      assert.equal(s.series.length, 1);
      const series = s.series[0];
      assert.equal(series.procedure_id, 'P0-0002');
      assert.equal(series.body_part, 'Human_SKULL');
      assert.equal(series.performed_protocol_code_meaning, '颅骨前后位 + 侧位');
      assert.deepEqual(
        series.images.map((i: { view_id: string }) => i.view_id),
        ['View_DX_T_A_SK_AP_00', 'View_DX_T_A_SK_LAT_00'],
      );
      const image = series.images[0];
      assert.deepEqual(
        [image.expose_status, image.judged_status, image.send_status, image.storage_status],
        ['Unexposed', 'NotJudged', 'Unsent', 'NotSaved'],
      );
      assert.match(image.sop_instance_uid, /^2\.25\.\d+$/);
      const again = await dr('GET', `study/${s.study_id}`);
      assert.deepEqual(again.body.data, s);
      const stat = await dr('GET', `study/${s.study_id}/stat`);
      assert.deepEqual(stat.body.data, { '@type': 'type.googleapis.com/dr.study.Stat', total: 2, exposed: 0 });
    });

    test('views without a procedure get their own series; vet registration on VETDROS keeps vet fields', async () => {
      const s = await register({ views: [{ view_id: 'View_DX_T_A_CH_PA_00', procedure_id: '' }, { view_id: 'View_DX_T_A_CH_LAT_00' }] });
      assert.equal(s.series.length, 2);
      assert.ok(s.series.every((x: { procedure_id: string }) => x.procedure_id === ''));
      const vet = await register(
        {
          patient_type: 'Dog',
          sex_neutered: 'ALTERED',
          pregnancy_status: undefined,
          views: [{ view_id: 'View_Dog_TH_RL_01', procedure_id: '' }],
        },
        { Product: 'VETDROS' },
      );
      assert.equal(vet.product, 'VETDROS');
      assert.equal(vet.sex_neutered, 'ALTERED');
      assert.equal(vet.variety, 'Golden Retriever');
      assert.equal(vet.patient_type, 'Dog');
    });

    test('bad registrations are refused with the field named and nothing written', async () => {
      const before = (await dr('GET', 'study?page_size=1')).body.data.count;
      const cases: [Record<string, unknown>, number, string][] = [
        [{ patient_sex: 'X' }, 400, 'patient_sex'],
        [{ patient_size: 'Huge' }, 400, 'patient_size'],
        [{ study_type: 'Urgent' }, 400, 'study_type'],
        [{ pregnancy_status: '0009' }, 400, 'pregnancy_status'],
        [{ patient_age: 'five' }, 400, 'patient_age'],
        [{ patient_dob: 'yesterday' }, 400, 'patient_dob'],
        [{ weight: '25' }, 400, 'weight'],
        [{ views: [] }, 400, 'views'],
        [{ modality: 'CT' }, 400, 'modality'],
        [{ sex_neutered: 'ALTERED' }, 400, 'sex_neutered'],
        [{ patient_type: 'Dog' }, 400, 'patient_type'],
        [{ views: [{ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: 'P0-0003' }] }, 422, 'views.0.procedure_id'],
        [{ views: [{ view_id: 'View_NOPE', procedure_id: '' }] }, 422, 'views.0.view_id'],
      ];
      for (const [over, status, field] of cases) {
        const res = await dr('POST', 'study', sampleStudy(over));
        assert.equal(res.status, status, `${JSON.stringify(over)}: ${res.text}`);
        assert.ok(isDrError(res.body), res.text);
        assert.ok(
          res.body.data.details.some((d: { field: string }) => d.field === field),
          `${field}: ${res.text}`,
        );
      }
      const missing = await dr('POST', 'study', { patient_id: 'x' });
      assert.equal(missing.status, 400);
      assert.ok(missing.body.data.details.length >= 5);
      assert.equal((await dr('GET', 'study?page_size=1')).body.data.count, before);
    });

    test('a patient is one record: re-registration updates it, another patient type is refused', async () => {
      const first = await register();
      const second = await register({ patient_id: first.patient_id, patient_name: 'Buddy Renamed' });
      assert.notEqual(second.study_id, first.study_id);
      const patient = await ctx.t.server.db.kysely.selectFrom('patients').selectAll().where('patient_id', '=', first.patient_id).execute();
      assert.equal(patient.length, 1);
      assert.equal(patient[0].name, 'Buddy Renamed');
      const clash = await dr(
        'POST',
        'study',
        sampleStudy({ patient_id: first.patient_id, patient_type: 'Dog', views: [{ view_id: 'View_Dog_TH_RL_01' }] }),
        undefined,
        { Product: 'VETDROS' },
      );
      assert.equal(clash.status, 409);
      assert.ok(isDrError(clash.body, '0x060008'));
    });

    test('worklist: fuzzy id/name/acc_no, RFC 3339 range with offsets, statuses, paging', async () => {
      const tag = randomUUID().slice(0, 6);
      const made: { study_id: string; patient_id: string; study_start_datetime: string }[] = [];
      for (let i = 0; i < 3; i += 1) made.push(await register({ patient_name: `张三${tag}${i}`, accession_number: `A${tag}${i}` }));
      const byName = await dr('GET', `study/?name=${encodeURIComponent(`张三${tag}`)}&page=1&page_size=2`);
      assert.equal(byName.body.data.count, 3);
      assert.equal(byName.body.data.studies.length, 2);
      assert.equal(byName.body.data.studies[0].study_id, made[2].study_id, 'newest first');
      assert.deepEqual(byName.body.data.studies[0].series, []);
      const byAcc = await dr('GET', `study?acc_no=${tag}1`);
      assert.deepEqual(
        byAcc.body.data.studies.map((s: { study_id: string }) => s.study_id),
        [made[1].study_id],
      );
      const byId = await dr('GET', `study?id=${made[0].study_id.slice(4)}`);
      assert.ok(byId.body.data.studies.some((s: { study_id: string }) => s.study_id === made[0].study_id));
      const byPatient = await dr('GET', `study?id=${made[0].patient_id}`);
      assert.equal(byPatient.body.data.studies[0].patient_id, made[0].patient_id);
      const start = new Date(Date.parse(made[0].study_start_datetime) - 1000);
      const plus8 = new Date(start.getTime() + 8 * 3600_000).toISOString().replace('Z', '+08:00');
      const ranged = await dr('GET', `study?name=${encodeURIComponent(`张三${tag}`)}&start_time=${encodeURIComponent(plus8)}`);
      assert.equal(ranged.body.data.count, 3);
      const past = await dr(
        'GET',
        `study?name=${encodeURIComponent(`张三${tag}`)}&end_time=${encodeURIComponent('2020-01-01T00:00:00.000+08:00')}`,
      );
      assert.equal(past.body.data.count, 0);
      const arrived = await dr('GET', `study?name=${encodeURIComponent(`张三${tag}`)}&status=Arrived,InProgress`);
      assert.equal(arrived.body.data.count, 3);
      const completed = await dr('GET', `study?name=${encodeURIComponent(`张三${tag}`)}&status=Completed`);
      assert.equal(completed.body.data.count, 0);
      for (const q of ['status=Done', 'start_time=yesterday', 'page=0', 'page_size=10001']) {
        const res = await dr('GET', `study?${q}`);
        assert.equal(res.status, 400, q);
        assert.ok(isDrError(res.body, '0x010001'));
      }
    });

    test('short names (one or two characters) are found through the n-gram index, renames included', async () => {
      const tag = randomUUID().slice(0, 4);
      const zhang = await register({ patient_name: `${tag}张三` });
      await register({ patient_name: `${tag}李四` });
      const two = await dr('GET', `study?name=${encodeURIComponent('张三')}&page_size=100`);
      assert.ok(two.body.data.studies.some((s: { study_id: string }) => s.study_id === zhang.study_id));
      assert.ok(two.body.data.studies.every((s: { patient_name: string }) => s.patient_name.includes('张三')));
      const one = await dr('GET', `study?name=${encodeURIComponent('四')}&page_size=100`);
      assert.ok(one.body.data.studies.every((s: { patient_name: string }) => s.patient_name.includes('四')) && one.body.data.count >= 1);
      const edit = sampleStudy({ patient_id: zhang.patient_id, patient_name: `${tag}王五` }) as Record<string, unknown>;
      delete edit.views;
      delete edit.patient_type;
      delete edit.modality;
      delete edit.study_type;
      assert.equal((await dr('PUT', `study/${zhang.study_id}`, edit)).status, 200);
      const renamed = await dr('GET', `study?name=${encodeURIComponent('王五')}&page_size=100`);
      assert.ok(renamed.body.data.studies.some((s: { study_id: string }) => s.study_id === zhang.study_id));
      const old = await dr('GET', `study?name=${encodeURIComponent('张三')}&page_size=100`);
      assert.ok(!old.body.data.studies.some((s: { study_id: string }) => s.study_id === zhang.study_id));
      const inList = async (path: string) =>
        (await dr('GET', path)).body.data.studies.some((s: { study_id: string }) => s.study_id === zhang.study_id);
      assert.equal(await inList(`study?name=${encodeURIComponent('王五')}&status=Completed&page_size=100`), false, 'status is honoured');
      assert.equal(await inList(`study?name=${encodeURIComponent('王五')}&status=Arrived&page_size=100`), true);
      await dr('DELETE', 'study', [zhang.study_id]);
      assert.equal(await inList(`study?name=${encodeURIComponent('王五')}&page_size=100`), false, 'binned studies leave the worklist');
      assert.equal(await inList(`recycle_bin/study?name=${encodeURIComponent('王五')}&page_size=100`), true);
      await dr('POST', 'recycle_bin/study', [zhang.study_id]);
      assert.equal(await inList(`study?name=${encodeURIComponent('王五')}&page_size=100`), true);
      const ascii = await register({ patient_name: `Ab${tag}` });
      const upper = await dr('GET', `study?name=AB&page_size=100`);
      assert.ok(
        upper.body.data.studies.some((s: { study_id: string }) => s.study_id === ascii.study_id),
        'case-insensitive',
      );
    });

    test('editing and locking: a locked study refuses edits, view changes and deletion', async () => {
      const s = await register();
      const edit = {
        ...sampleStudy({ patient_id: s.patient_id, patient_name: 'Buddy (Dog)g', patient_size: 'Small', weight: 35 }),
      } as Record<string, unknown>;
      delete edit.views;
      delete edit.patient_type;
      delete edit.modality;
      delete edit.study_type;
      const updated = await dr('PUT', `study/${s.study_id}`, edit);
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.data.patient_name, 'Buddy (Dog)g');
      assert.equal(updated.body.data.is_edited, true);
      assert.equal(updated.body.data.weight, 35);
      assert.equal((await dr('PUT', `study/${s.study_id}/lock`, { lock: 'Locked' })).status, 200);
      assert.equal((await dr('GET', `study/${s.study_id}`)).body.data.study_lock, 'Locked');
      const refused = await dr('PUT', `study/${s.study_id}`, edit);
      assert.equal(refused.status, 409);
      assert.ok(isDrError(refused.body, '0x060002'));
      assert.equal((await dr('POST', 'image', { study_id: s.study_id, views: [{ view_id: 'View_DX_T_A_SK_PA_00' }] })).status, 409);
      const del = await dr('DELETE', 'study', [s.study_id]);
      assert.equal(del.status, 409);
      assert.equal(del.body.data.details[0].field, s.study_id);
      assert.equal((await dr('GET', `study/${s.study_id}`)).status, 200, 'a locked study stays');
      assert.equal((await dr('PUT', `study/${s.study_id}/lock`, { lock: 'Open' })).status, 400);
      assert.equal((await dr('PUT', `study/${s.study_id}/lock`, { lock: 'Unlocked' })).status, 200);
      assert.equal((await dr('PUT', 'study/123/lock', { lock: 'Locked' })).status, 400);
      assert.equal((await dr('PUT', 'study/999999999999999/lock', { lock: 'Locked' })).status, 404);
    });

    test('views in a study: add, copy, sort, delete; save_as needs pixels', async () => {
      const s = await register();
      const added = await dr('POST', 'image', {
        study_id: s.study_id,
        views: [
          { view_id: 'View_DX_T_A_SK_AP_00', procedure_id: 'P0-0002' },
          { view_id: 'View_DX_T_A_SK_Special_04', procedure_id: '' },
        ],
      });
      assert.equal(added.status, 200, added.text);
      assert.equal(added.body.data['@type'], 'type.googleapis.com/dr.study.CreateImageReply');
      assert.equal(added.body.data.series.length, 2);
      const uid = s.series[0].images[1].sop_instance_uid;
      const copied = await dr('POST', 'image/copy', { instance_uid: uid });
      assert.equal(copied.body.data.series.length, 1);
      assert.equal(copied.body.data.series[0].images.length, 1);
      assert.equal(copied.body.data.series[0].images[0].view_id, 'View_DX_T_A_SK_LAT_00');
      const detail = (await dr('GET', `study/${s.study_id}`)).body.data;
      const uids: string[] = detail.series.flatMap((x: { images: { sop_instance_uid: string }[] }) =>
        x.images.map((i) => i.sop_instance_uid),
      );
      assert.equal(uids.length, 5);
      const reversed = [...uids].reverse();
      assert.equal((await dr('POST', 'image/sort', { study_id: s.study_id, sop_instance_uids: reversed })).status, 200);
      const sorted = (await dr('GET', `study/${s.study_id}`)).body.data;
      const sortOf = (u: string) =>
        sorted.series
          .flatMap((x: { images: { sop_instance_uid: string; sort: number }[] }) => x.images)
          .find((i: { sop_instance_uid: string }) => i.sop_instance_uid === u).sort;
      assert.equal(sortOf(reversed[0]), 1);
      assert.equal(sortOf(reversed[4]), 5);
      const partial = await dr('POST', 'image/sort', { study_id: s.study_id, sop_instance_uids: reversed.slice(1) });
      assert.equal(partial.status, 422);
      assert.ok(isDrError(partial.body, '0x060006'));
      const towne = added.body.data.series[1].images[0].sop_instance_uid;
      assert.equal((await dr('DELETE', `image/${towne}`)).status, 200);
      const after = (await dr('GET', `study/${s.study_id}`)).body.data;
      assert.equal(after.series.length, 2, 'the emptied series went with its image');
      assert.equal((await dr('DELETE', `image/${towne}`)).status, 404);
      // An exposed image cannot go until it is rejected.
      await ctx.t.server.db.kysely
        .updateTable('images')
        .set({ expose_status: 'Exposed', judged_status: 'Accept' })
        .where('sop_instance_uid', '=', uid)
        .execute();
      const exposed = await dr('DELETE', `image/${uid}`);
      assert.equal(exposed.status, 409);
      assert.ok(isDrError(exposed.body, '0x060004'));
      await ctx.t.server.db.kysely.updateTable('images').set({ judged_status: 'Reject' }).where('sop_instance_uid', '=', uid).execute();
      assert.equal((await dr('DELETE', `image/${uid}`)).status, 200);
      const saveAs = await dr('POST', 'image/save_as', { instance_uid: uids[0] });
      assert.equal(saveAs.status, 409, 'nothing to save before the image has pixels');
      assert.ok(isDrError(saveAs.body, '0x070005'));
    });

    test('system stats count patients and studies', async () => {
      const before = (await call(ctx.t.url, 'GET', '/api/v1/system/stats?period=today', { token: ctx.admin })).body.data.stats;
      await register();
      const after = (await call(ctx.t.url, 'GET', '/api/v1/system/stats?period=today', { token: ctx.admin })).body.data.stats;
      assert.equal(after.patients.total, (before.patients.total as number) + 1);
      assert.equal(after.studies.total, (before.studies.total as number) + 1);
      assert.equal(after.studies.new_in_period, (before.studies.new_in_period as number) + 1);
      assert.equal(after.studies.by_status.Arrived, (before.studies.by_status.Arrived as number) + 1);
      assert.equal(after.studies.by_modality.DX, after.studies.total);
    });

    test('the guest token registers and works on Emergency studies only', async () => {
      const guest = (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
      const normal = await dr('POST', 'study', sampleStudy(), guest);
      assert.equal(normal.status, 403);
      const emergency = await dr('POST', 'study', sampleStudy({ study_type: 'Emergency' }), guest);
      assert.equal(emergency.status, 200, emergency.text);
      assert.equal((await dr('GET', `study/${emergency.body.data.study_id}`, undefined, guest)).status, 200);
      const other = await register({ study_type: 'Emergency' });
      assert.equal((await dr('GET', `study/${other.study_id}`, undefined, guest)).status, 404, 'not one the guest registered');
      assert.equal((await dr('GET', 'study', undefined, guest)).status, 403, 'no worklist browsing');
      assert.equal((await dr('DELETE', 'study', [emergency.body.data.study_id], guest)).status, 403);
    });
  });

  describe(`recycle bin on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body });
    const register = async (tag: string) => (await dr('POST', 'study', sampleStudy({ patient_name: tag }))).body.data;

    test('unfiltered totals (kept by triggers) always equal a real count', async () => {
      const real = async (inBin: boolean, status?: string) => {
        let q = ctx.t.server.db.kysely
          .selectFrom('studies')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('deleted_at', inBin ? 'is not' : 'is', null);
        if (status) q = q.where('study_status', '=', status as 'Arrived');
        return (await q.executeTakeFirstOrThrow()).n;
      };
      const check = async () => {
        assert.equal((await dr('GET', 'study?page_size=1')).body.data.count, await real(false));
        assert.equal((await dr('GET', 'recycle_bin/study?page_size=1')).body.data.count, await real(true));
        assert.equal((await dr('GET', 'study?status=Arrived&page_size=1')).body.data.count, await real(false, 'Arrived'));
      };
      const a = await register('cnt');
      const b = await register('cnt');
      await check();
      await ctx.t.server.db.kysely.updateTable('studies').set({ study_status: 'Completed' }).where('study_id', '=', a.study_id).execute();
      await check();
      await dr('DELETE', 'study', [a.study_id, b.study_id]);
      await check();
      await dr('POST', 'recycle_bin/study', [a.study_id]);
      await check();
      await dr('DELETE', 'recycle_bin/study', [b.study_id]);
      await check();
    });

    test('delete moves to the bin; restore brings back; purge is final and audited', async () => {
      const tag = `bin${randomUUID().slice(0, 6)}`;
      const a = await register(tag);
      const b = await register(tag);
      const del = await dr('DELETE', 'study', [a.study_id, b.study_id]);
      assert.equal(del.status, 200, del.text);
      assert.equal((await dr('GET', `study/${a.study_id}`)).status, 404);
      assert.equal((await dr('GET', `study?name=${tag}`)).body.data.count, 0);
      const binned = await dr('GET', `recycle_bin/study/?name=${tag}`);
      assert.equal(binned.body.data.count, 2);
      const inBin = await dr('GET', `recycle_bin/study/${a.study_id}`);
      assert.equal(inBin.body.data.series[0].images.length, 2, 'nothing is lost in the bin');
      assert.equal((await dr('POST', 'recycle_bin/study', [a.study_id])).status, 200);
      assert.equal((await dr('GET', `study/${a.study_id}`)).status, 200);
      const purge = await dr('DELETE', 'recycle_bin/study', [b.study_id]);
      assert.equal(purge.status, 200);
      assert.deepEqual(purge.body.data, { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} });
      assert.equal((await dr('GET', `recycle_bin/study/${b.study_id}`)).status, 404);
      assert.equal((await dr('POST', 'recycle_bin/study', [b.study_id])).status, 404, 'purged is gone');
      const images = await ctx.t.server.db.kysely
        .selectFrom('images')
        .select('id')
        .where('sop_instance_uid', '=', b.series[0].images[0].sop_instance_uid)
        .execute();
      assert.equal(images.length, 0);
      const audit = await call(ctx.t.url, 'GET', '/api/v1/system/audit-logs?action=recycle_bin.purge', { token: ctx.admin });
      assert.ok(audit.body.data.items.some((e: { detail: { study_ids: string[] } }) => e.detail.study_ids.includes(b.study_id)));
    });

    test('a binned study counts its image files in disk_info; purge removes them after the rows', async () => {
      const s = await register(`file${randomUUID().slice(0, 6)}`);
      const uid = s.series[0].images[0].sop_instance_uid;
      const blobs = new FileBlobStore(path.join(ctx.t.dataDir, 'blobs'));
      await storeDx(ctx.t, uid);
      const keys = [`dicom/${uid}.dcm`, `thumbnail/${uid}.webp`];
      const sizes = await Promise.all(keys.map(async (k) => (await blobs.stat(k))?.size ?? 0));
      assert.ok(
        sizes.every((n) => n > 0),
        'the object and its thumbnail are stored',
      );
      const before = (await dr('GET', 'recycle_bin/disk_info')).body.data.recycle_bin;
      await dr('DELETE', 'study', [s.study_id]);
      const binned = (await dr('GET', 'recycle_bin/disk_info')).body.data;
      assert.equal(binned.recycle_bin, (before as number) + sizes[0] + sizes[1]);
      assert.equal((await blobs.stat(keys[0]))?.size, sizes[0], 'nothing is deleted while in the bin');
      assert.equal((await dr('DELETE', 'recycle_bin/study', [s.study_id])).status, 200);
      for (const key of keys) assert.equal(await blobs.stat(key), undefined, key);
      assert.equal((await dr('GET', 'recycle_bin/disk_info')).body.data.recycle_bin, before);
    });

    test('clear empties the bin; disk_info reports real figures; permissions hold', async () => {
      const tag = `clr${randomUUID().slice(0, 6)}`;
      const a = await register(tag);
      await dr('DELETE', 'study', [a.study_id]);
      const info = await dr('GET', 'recycle_bin/disk_info');
      assert.ok(info.body.data.total > info.body.data.free && info.body.data.free > 0);
      assert.match(info.body.data.total_str, /^\d+\.\d{2} (KB|MB|GB|TB|PB)$/);
      assert.equal(info.body.data.recycle_bin_str, '0.00 KB');
      const tech = await login(ctx.t.url, 'tech', SEED_PASSWORD);
      assert.equal((await dr('DELETE', 'recycle_bin/clear', undefined, tech.token)).status, 403, 'radiographers restore but do not purge');
      assert.equal((await dr('POST', 'recycle_bin/study', [a.study_id], tech.token)).status, 200);
      await dr('DELETE', 'study', [a.study_id]);
      assert.equal((await dr('DELETE', 'recycle_bin/clear')).status, 200);
      assert.equal((await dr('GET', 'recycle_bin/study')).body.data.count, 0);
      const bad = await dr('DELETE', 'recycle_bin/study', ['not-an-id']);
      assert.equal(bad.status, 400);
      assert.equal((await dr('DELETE', 'recycle_bin/study', [])).status, 400);
    });
  });
}
