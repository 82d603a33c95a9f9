import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DIALECTS, call, createUser, isDiagnosisError, withServer } from './helpers.js';
import { hanTag, idCard, phone, samplePatient } from './patients-support.js';

for (const dialect of DIALECTS) {
  describe(`patients (diagnosis face) on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const api = (method: string, path: string, body?: unknown, token = ctx.admin) =>
      call(ctx.t.url, method, `/api/v1/${path}`, { token, body });
    const create = async (over: Record<string, unknown> = {}) => {
      const res = await api('POST', 'patients', samplePatient(over));
      assert.equal(res.status, 201, res.text);
      return res.body.data;
    };
    const auditRows = (action: string, resourceId: string) =>
      ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .selectAll()
        .where('action', '=', action)
        .where('resource_id', '=', resourceId)
        .execute();

    test('the spec sample creates a patient whose detail shows every sample field, read audited', async () => {
      const body = samplePatient();
      const res = await api('POST', 'patients', body);
      assert.equal(res.status, 201, res.text);
      const p = res.body.data;
      assert.match(p.patient_no, /^P\d{6}\d{3,}$/);
      assert.equal(p.patient_no.slice(1, 7), new Date().toISOString().slice(0, 7).replace('-', ''));
      for (const key of Object.keys(body)) assert.deepEqual(p[key], (body as Record<string, unknown>)[key], key);
      assert.equal(p.age, new Date().getUTCFullYear() - 1985 - (new Date().toISOString().slice(5, 10) < '06-20' ? 1 : 0));
      assert.deepEqual(p.studies, []);
      assert.ok(p.created_at && p.updated_at);
      const got = await api('GET', `patients/${p.id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.data, p);
      const created = await auditRows('patient.create', String(p.id));
      assert.equal(created.length, 1, 'one audit row naming the new record, committed with it');
      const views = await auditRows('patient.view', String(p.id));
      assert.ok(views.length >= 1);
      assert.equal(JSON.parse(views[0].detail ?? '{}').pii, true);
    });

    test('phone, ID card, address and emergency phone are not in the database in clear', async () => {
      const p = await create({ address: '上海市浦东新区张江路999号' });
      const row = await ctx.t.server.db.kysely.selectFrom('patients').selectAll().where('id', '=', p.id).executeTakeFirstOrThrow();
      const dump = JSON.stringify(row);
      for (const clear of [p.phone, p.id_card, '张江路999号', p.emergency_phone, p.id_card.slice(6, 14)])
        assert.ok(!dump.includes(clear), `${clear} is stored in clear`);
      assert.ok(row.phone_enc?.startsWith('pii:v1:') && row.phone_hash && row.id_card_hash);
      const secret = await ctx.t.server.db.kysely
        .selectFrom('server_secrets')
        .select('value')
        .where('name', '=', 'patient_data_key')
        .executeTakeFirstOrThrow();
      assert.ok(secret.value.startsWith('enc:v1:'), 'the data key is sealed under the secret key');
      // A sealed value moved to another patient's row does not open there (row-bound associated data).
      const other = await create();
      await ctx.t.server.db.kysely.updateTable('patients').set({ phone_enc: row.phone_enc }).where('id', '=', other.id).execute();
      const moved = await api('GET', `patients/${other.id}`);
      assert.equal(moved.status, 500);
      await ctx.t.server.db.kysely.updateTable('patients').set({ phone_enc: null }).where('id', '=', other.id).execute();
    });

    test('ID card numbers are checked (length, date, GB 11643 check digit) and unique; bad input writes nothing', async () => {
      const name = `校验${hanTag()}`;
      const good = idCard('19900101');
      const wrongCheck = `${good.slice(0, 17)}${good[17] === '0' ? '1' : '0'}`;
      const cases: [Record<string, unknown>, string][] = [
        [{ id_card: wrongCheck }, 'id_card'],
        [{ id_card: '11010119900101123' }, 'id_card'],
        [{ id_card: '110101199013011234' }, 'id_card'],
        [{ phone: 'call me' }, 'phone'],
        [{ birth_date: '2999-01-01' }, 'birth_date'],
        [{ birth_date: '1990-02-30' }, 'birth_date'],
        [{ gender: 'm' }, 'gender'],
        [{ allergies: Array.from({ length: 51 }, (_, i) => `a${i}`) }, 'allergies'],
        [{ medical_history: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'x'])) }, 'medical_history'],
        [{ medical_history: { ['k'.repeat(65)]: 'x' } }, 'medical_history'],
        [{ medical_history: { '': 'x' } }, 'medical_history'],
        [{ allergies: ['x'.repeat(65)] }, 'allergies'],
        [{ name: 'x'.repeat(65) }, 'name'],
        [{ name: '<script>' }, 'name'],
        [{ height: -1 }, 'height'],
        [{ blood_type: 'Z' }, 'blood_type'],
        [{ address: 'a'.repeat(201) }, 'address'],
      ];
      for (const [over, field] of cases) {
        const res = await api('POST', 'patients', samplePatient({ name, ...over }));
        assert.equal(res.status, 400, `${JSON.stringify(over).slice(0, 80)}: ${res.text}`);
        assert.ok(isDiagnosisError(res.body, 400, 'ValidationError'));
        assert.ok(
          res.body.error.details.some((d: { field: string }) => d.field.includes(field)),
          `${field}: ${JSON.stringify(res.body.error.details)}`,
        );
      }
      const checkMessage = (await api('POST', 'patients', samplePatient({ name, id_card: wrongCheck }))).body.error.details[0].message;
      assert.match(checkMessage, /check digit/);
      const none = await api('GET', `patients?search=${encodeURIComponent(name)}`);
      assert.equal(none.body.data.pagination.total, 0, 'nothing was written');
      await create({ name, id_card: good });
      const dup = await api('POST', 'patients', samplePatient({ name, id_card: good.toLowerCase() }));
      assert.equal(dup.status, 409);
      assert.ok(isDiagnosisError(dup.body, 409, 'ConflictError'));
      assert.equal((await api('GET', `patients?search=${encodeURIComponent(name)}`)).body.data.pagination.total, 1);
      // Birth date and sex come from the ID card when the form leaves them out.
      const derived = await create({ name, id_card: idCard('20010203', true), birth_date: undefined, gender: undefined });
      assert.equal(derived.birth_date, '2001-02-03');
      assert.equal(derived.gender, 'male');
    });

    test('the list masks phone, ID card and address; search is exact for numbers and substring for names', async () => {
      const tag = hanTag();
      const mobile = phone();
      const card = idCard('19790315', true);
      const p = await create({
        name: `张三${tag}`,
        gender: 'male',
        birth_date: '1979-03-15',
        phone: mobile,
        id_card: card,
        address: '北京市朝阳区建国路88号',
      });
      const list = await api('GET', `patients?search=${encodeURIComponent(`三${tag}`)}`);
      assert.equal(list.status, 200);
      assert.equal(list.body.data.pagination.total, 1);
      const item = list.body.data.items[0];
      assert.equal(item.id, p.id);
      assert.equal(item.phone, `${mobile.slice(0, 3)}****${mobile.slice(-4)}`);
      assert.equal(item.id_card, `110101********${card.slice(-4)}`);
      assert.equal(item.address, '北京市朝阳区***');
      for (const key of [
        'id',
        'patient_no',
        'name',
        'gender',
        'age',
        'birth_date',
        'phone',
        'id_card',
        'address',
        'created_at',
        'study_count',
        'last_study_date',
      ])
        assert.ok(key in item, key);
      assert.equal(item.study_count, 0);
      assert.equal(item.last_study_date, null);
      const find = async (term: string) =>
        (await api('GET', `patients?search=${encodeURIComponent(term)}&size=100`)).body.data.items.map((x: { id: number }) => x.id);
      assert.deepEqual(await find(mobile), [p.id], 'the whole phone number finds it');
      assert.deepEqual(await find(`+86 ${mobile.slice(0, 3)} ${mobile.slice(3)}`), [p.id], 'written with a country code and spaces too');
      assert.ok(!(await find(mobile.slice(0, 8))).includes(p.id), 'part of a phone number does not');
      assert.deepEqual(await find(card), [p.id]);
      assert.deepEqual(await find(p.patient_no), [p.id]);
      assert.ok((await find(tag)).includes(p.id));
      // Searches are audited, the personal numbers searched for are not written there.
      const listed = await ctx.t.server.db.kysely.selectFrom('audit_logs').selectAll().where('action', '=', 'patient.list').execute();
      assert.ok(listed.length >= 6);
      const trail = JSON.stringify(await ctx.t.server.db.kysely.selectFrom('audit_logs').selectAll().execute());
      for (const clear of [mobile, mobile.slice(3), card]) assert.ok(!trail.includes(clear), `${clear} is in the audit log`);
    });

    test('gender, age range, created range, sort/order, the filter form and pagination', async () => {
      const tag = hanTag();
      const year = new Date().getUTCFullYear();
      const made = [];
      for (const [i, age, gender] of [
        [0, 10, 'male'],
        [1, 30, 'female'],
        [2, 50, 'male'],
        [3, 70, 'other'],
        [4, 40, 'male'],
      ] as const) {
        made.push(await create({ name: `分页${tag}${i}`, gender, birth_date: `${year - age}-01-01`, id_card: null }));
      }
      const ids = async (query: string) => {
        const res = await api('GET', `patients?search=${encodeURIComponent(tag)}&${query}`);
        assert.equal(res.status, 200, res.text);
        return res.body.data.items.map((x: { id: number }) => x.id);
      };
      assert.deepEqual(await ids('gender=male&sort=name&order=asc'), [made[0].id, made[2].id, made[4].id]);
      assert.deepEqual(await ids('age_min=30&age_max=50&sort=age&order=asc'), [made[1].id, made[4].id, made[2].id]);
      assert.deepEqual(await ids(`filter=${encodeURIComponent('gender:male,age_min:18')}&sort=created_at&order=desc`), [
        made[4].id,
        made[2].id,
      ]);
      assert.deepEqual(await ids('sort=age&order=desc&size=2&page=1'), [made[3].id, made[2].id]);
      const today = new Date().toISOString().slice(0, 10);
      assert.equal((await ids(`created_start=${today}&created_end=${today}`)).length, 5);
      assert.equal((await ids('created_end=2000-01-01')).length, 0);
      const page = await api('GET', `patients?search=${encodeURIComponent(tag)}&size=2&page=2&sort=name&order=asc`);
      assert.deepEqual(page.body.data.pagination, { page: 2, size: 2, total: 5, pages: 3, has_next: true, has_prev: true });
      assert.deepEqual(
        page.body.data.items.map((x: { name: string }) => x.name),
        [`分页${tag}2`, `分页${tag}3`],
      );
      for (const bad of [
        'size=101',
        'page=0',
        'gender=x',
        'filter=phone:1',
        'filter=age_min:x',
        'age_min=60&age_max=20',
        'created_start=yesterday',
        'sort=phone',
        'order=up',
      ])
        assert.equal((await api('GET', `patients?${bad}`)).status, 400, bad);
    });

    test('update validates like create, null clears, and the name follows into the index', async () => {
      const p = await create();
      const upd = await api('PUT', `patients/${p.id}`, { phone: null, address: '广州市天河区体育西路1号', weight: 60.5, allergies: [] });
      assert.equal(upd.status, 200, upd.text);
      assert.equal(upd.body.data.phone, null);
      assert.equal(upd.body.data.address, '广州市天河区体育西路1号');
      assert.equal(upd.body.data.weight, 60.5);
      assert.deepEqual(upd.body.data.allergies, []);
      assert.equal(upd.body.data.name, p.name, 'fields not given stay');
      for (const bad of [{}, { id_card: '123' }, { name: null }, { gender: 'unknown' }, { height: 1000 }]) {
        const res = await api('PUT', `patients/${p.id}`, bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
      }
      assert.equal((await api('GET', `patients/${p.id}`)).body.data.address, '广州市天河区体育西路1号', 'nothing written');
      assert.equal((await api('PUT', 'patients/999999999', { weight: 1 })).status, 404);
      const taken = await create();
      assert.equal((await api('PUT', `patients/${p.id}`, { id_card: taken.id_card })).status, 409);
    });

    test('permissions: read needs patient:read, full numbers need patient:pii, writes need patient:write', async () => {
      const p = await create();
      const service = await createUser(ctx.t.url, ctx.admin, ['service']);
      assert.equal((await api('GET', 'patients', undefined, service.token)).status, 403);
      assert.equal((await api('GET', `patients/${p.id}`, undefined, service.token)).status, 403);
      const doctor = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      assert.equal((await api('POST', 'patients', samplePatient(), doctor.token)).status, 403);
      assert.equal((await api('DELETE', `patients/${p.id}`, undefined, doctor.token)).status, 403);
      assert.equal((await api('GET', `patients/${p.id}`, undefined, doctor.token)).body.data.phone, p.phone);
      // A role that reads patients without patient:pii sees the detail masked.
      const db = ctx.t.server.db.kysely;
      const roleName = `reader_${Date.now()}`;
      const role = await db
        .insertInto('roles')
        .values({
          name: roleName,
          display_name_zh: roleName,
          display_name_en: roleName,
          description: '',
          is_builtin: 0,
          created_at: new Date().toISOString(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db.insertInto('role_permissions').values({ role_id: role.id, permission: 'patient:read' }).execute();
      const reader = await createUser(ctx.t.url, ctx.admin, [roleName]);
      const masked = await api('GET', `patients/${p.id}`, undefined, reader.token);
      assert.equal(masked.status, 200, masked.text);
      assert.equal(masked.body.data.phone, `${p.phone.slice(0, 3)}****${p.phone.slice(-4)}`);
      assert.equal(masked.body.data.id_card, `${p.id_card.slice(0, 6)}********${p.id_card.slice(-4)}`);
      assert.ok(!('studies' in masked.body.data), 'no study:read, no studies');
      const views = await auditRows('patient.view', String(p.id));
      assert.ok(views.some((v) => v.user_id === reader.id && JSON.parse(v.detail ?? '{}').pii === false));
    });

    test('patient numbers stay unique when many are created at once', async () => {
      const made = await Promise.all(Array.from({ length: 12 }, () => api('POST', 'patients', samplePatient({ id_card: null }))));
      assert.ok(made.every((r) => r.status === 201));
      const numbers = made.map((r) => r.body.data.patient_no);
      assert.equal(new Set(numbers).size, numbers.length);
    });
  });
}
