import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, call, createUser, isDiagnosisError, sampleStudy, withServer } from './helpers.js';
import { hanTag, samplePatient } from './patients-support.js';

for (const dialect of DIALECTS) {
  describe(`patients and their studies, both faces, on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const api = (method: string, path: string, body?: unknown, token = ctx.admin) =>
      call(ctx.t.url, method, `/api/v1/${path}`, { token, body });
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: ctx.admin, body });
    const register = async (over: Record<string, unknown> = {}) => {
      const res = await dr('POST', 'study', sampleStudy(over));
      assert.equal(res.status, 200, res.text);
      return res.body.data as { study_id: string; study_instance_uid: string; patient_id: string };
    };
    const create = async (over: Record<string, unknown> = {}) => {
      const res = await api('POST', 'patients', samplePatient({ id_card: null, ...over }));
      assert.equal(res.status, 201, res.text);
      return res.body.data;
    };
    const byNo = async (patientNo: string) => {
      const res = await api('GET', `patients?search=${encodeURIComponent(patientNo)}`);
      return res.body.data.items.find((p: { patient_no: string }) => p.patient_no === patientNo);
    };

    test('a patient registered at the console is a patient here, and a patient made here registers there', async () => {
      const name = `控制台${hanTag()}`;
      const s = await register({ patient_name: name, patient_sex: 'M', patient_dob: '1980-05-06T00:00:00Z' });
      const seen = await byNo(s.patient_id);
      assert.ok(seen, 'the console patient is listed');
      assert.equal(seen.name, name);
      assert.equal(seen.gender, 'male');
      assert.equal(seen.birth_date, '1980-05-06');
      assert.equal(seen.study_count, 1);
      assert.equal(seen.last_study_date, new Date().toISOString().slice(0, 10));
      const detail = (await api('GET', `patients/${seen.id}`)).body.data;
      assert.equal(detail.studies.length, 1);
      assert.equal(detail.studies[0].id, s.study_instance_uid);
      assert.equal(detail.studies[0].study_id, s.study_id);
      assert.equal(detail.studies[0].status, 'scheduled', 'Arrived is scheduled');
      assert.equal(detail.studies[0].modality, 'DX');
      assert.equal(detail.studies[0].body_part, 'Human_SKULL');
      assert.equal(detail.phone, null);

      const here = await create({ name: `诊断${hanTag()}`, gender: 'female' });
      const there = await register({ patient_id: here.patient_no, patient_name: here.name, patient_sex: 'F' });
      assert.equal(there.patient_id, here.patient_no);
      const after = (await api('GET', `patients/${here.id}`)).body.data;
      assert.equal(after.studies.length, 1, 'the console registered the same patient');
      assert.equal(after.phone, here.phone, 'the console keeps what the diagnosis face recorded');
    });

    test('GET /patients/{id}/studies pages, filters by date and modality', async () => {
      const p = await create();
      const made = [];
      for (let i = 0; i < 3; i += 1) made.push(await register({ patient_id: p.patient_no, patient_name: p.name, patient_sex: 'F' }));
      const page = await api('GET', `patients/${p.id}/studies?page=1&size=2`);
      assert.equal(page.status, 200, page.text);
      assert.deepEqual(page.body.data.pagination, { page: 1, size: 2, total: 3, pages: 2, has_next: true, has_prev: false });
      assert.deepEqual(
        page.body.data.items.map((x: { study_id: string }) => x.study_id),
        [made[2].study_id, made[1].study_id],
      );
      const today = new Date().toISOString().slice(0, 10);
      assert.equal((await api('GET', `patients/${p.id}/studies?date_start=${today}&date_end=${today}`)).body.data.pagination.total, 3);
      assert.equal((await api('GET', `patients/${p.id}/studies?date_end=2025-01-01`)).body.data.pagination.total, 0);
      assert.equal((await api('GET', `patients/${p.id}/studies?modality=CT`)).body.data.pagination.total, 0);
      assert.equal((await api('GET', `patients/${p.id}/studies?modality=DX`)).body.data.pagination.total, 3);
      assert.equal((await api('GET', `patients/${p.id}/studies?date_start=soon`)).status, 400);
      assert.equal((await api('GET', `patients/${p.id}/studies?size=500`)).status, 400);
      assert.equal((await api('GET', 'patients/999999999/studies')).status, 404);
    });

    test('delete is refused (409, listing them) while studies are outside the recycle bin, soft otherwise', async () => {
      const p = await create();
      const s = await register({ patient_id: p.patient_no, patient_name: p.name, patient_sex: 'F' });
      const refused = await api('DELETE', `patients/${p.id}`);
      assert.equal(refused.status, 409);
      assert.ok(isDiagnosisError(refused.body, 409, 'ConflictError'));
      assert.ok(refused.body.error.details.some((d: { message: string }) => d.message.includes(s.study_instance_uid)));
      assert.equal((await api('GET', `patients/${p.id}`)).status, 200, 'still there');
      assert.equal((await dr('DELETE', 'study', [s.study_id])).status, 200);
      const gone = await api('DELETE', `patients/${p.id}`);
      assert.equal(gone.status, 200, gone.text);
      assert.equal((await api('GET', `patients/${p.id}`)).status, 404);
      assert.equal((await api('DELETE', `patients/${p.id}`)).status, 404);
      assert.equal(await byNo(p.patient_no), undefined);
      const row = await ctx.t.server.db.kysely.selectFrom('patients').selectAll().where('id', '=', p.id).executeTakeFirstOrThrow();
      assert.ok(row.deleted_at, 'kept, marked deleted');
      assert.equal(row.deleted_patient_no, p.patient_no);
      const audit = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('action', '=', 'patient.delete')
        .where('resource_id', '=', String(p.id))
        .execute();
      assert.deepEqual(audit.map((a) => a.outcome).sort(), ['failure', 'failure', 'success'], 'the 409, the success, the 404');
      // The number is free again: the console registering it makes a new patient.
      await register({ patient_id: p.patient_no, patient_name: p.name, patient_sex: 'F' });
      const fresh = await byNo(p.patient_no);
      assert.ok(fresh && fresh.id !== p.id);
    });

    test('merge moves the studies (Patient ID and name in the index) and deletes the duplicate, audited', async () => {
      const keep = await create({ name: `保留${hanTag()}` });
      const dupNo = `DUP${Date.now()}`;
      const dupStudy = await register({ patient_id: dupNo, patient_name: '重复登记', patient_sex: 'F' });
      const dup = await byNo(dupNo);
      const binned = await register({ patient_id: dupNo, patient_name: '重复登记', patient_sex: 'F' });
      await dr('DELETE', 'study', [binned.study_id]);
      const merged = await api('POST', `patients/${keep.id}/merge`, { from: dup.id });
      assert.equal(merged.status, 200, merged.text);
      assert.deepEqual(
        merged.body.data.studies.map((x: { study_id: string }) => x.study_id),
        [dupStudy.study_id],
      );
      assert.deepEqual(
        merged.body.data.merged_from.map((m: { id: number; patient_no: string }) => [m.id, m.patient_no]),
        [[dup.id, dupNo]],
      );
      const study = (await dr('GET', `study/${dupStudy.study_id}`)).body.data;
      assert.equal(study.patient_id, keep.patient_no);
      assert.equal(study.patient_name, keep.name);
      const inBin = await ctx.t.server.db.kysely
        .selectFrom('studies')
        .select('patient_pk')
        .where('study_id', '=', binned.study_id)
        .executeTakeFirstOrThrow();
      assert.equal(inBin.patient_pk, keep.id, 'binned studies move too');
      assert.equal((await api('GET', `patients/${dup.id}`)).status, 404);
      const rows = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('action', '=', 'patient.merge')
        .where('resource_id', '=', String(keep.id))
        .execute();
      assert.equal(rows.length, 1);
      assert.deepEqual(JSON.parse(rows[0].detail ?? '{}'), {
        from: dup.id,
        from_patient_no: dupNo,
        into_patient_no: keep.patient_no,
        moved_studies: 2,
      });

      assert.equal((await api('POST', `patients/${keep.id}/merge`, { from: keep.id })).status, 422);
      assert.equal((await api('POST', `patients/${keep.id}/merge`, { from: dup.id })).status, 404, 'already merged');
      assert.equal((await api('POST', `patients/${keep.id}/merge`, { from: 'x' })).status, 400);
      const other = await create();
      const tech = await createUser(ctx.t.url, ctx.admin, ['tech']);
      assert.equal(
        (await api('POST', `patients/${keep.id}/merge`, { from: other.id }, tech.token)).status,
        403,
        'tech lacks patient:delete',
      );
      const vet = await register({
        patient_id: `VET${Date.now()}`,
        patient_type: 'Dog',
        sex_neutered: 'ALTERED',
        pregnancy_status: undefined,
      }).catch(() => undefined);
      if (vet) {
        const vetPatient = await byNo(vet.patient_id);
        assert.equal(
          (await api('POST', `patients/${keep.id}/merge`, { from: vetPatient.id })).status,
          422,
          'a dog is not merged into a human',
        );
      }
      assert.equal((await api('GET', `patients/${other.id}`)).status, 200, 'refused merges wrote nothing');
    });
  });
}
