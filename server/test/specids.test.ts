import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DIALECTS, call, sampleStudy, withServer } from './helpers.js';

/**
 * Every protocol identifier the API documents use exists with the documents' meaning (issue 16).
 * The fixture is extracted from the documents by `scripts/extract-spec-ids.mjs`.
 */
interface Fixture {
  patientTypes: { id: string; product: string; name?: string; is_enabled?: boolean }[];
  bodyParts: { id: string; product: string; zh?: string; en?: string }[];
  procedures: {
    id: string;
    product: string;
    zh?: string;
    en?: string;
    body_part_id?: string;
    procedure_type?: string;
    procedure_category?: string;
    protocol_laterality?: string;
    views?: string[];
  }[];
  views: {
    id: string;
    product: string;
    zh?: string;
    body_part_id?: string;
    anatomic_region?: string;
    icon?: string;
    pictograms?: string[];
    apr_category?: string;
  }[];
  patientSizes: string[];
  configs: { key: string; type: string; category: string }[];
  roles: { id: string; permissions: string[] }[];
  roleIds: string[];
  optionGroups: string[];
  basicOptions: { text: string; value: string }[];
  registrationEnums: Record<'patient_sex' | 'sex_neutered' | 'pregnancy_status' | 'study_type', string[]>;
  registration: { view_id: string; procedure_id: string };
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/spec-ids.json', import.meta.url), 'utf8')) as Fixture;

for (const dialect of DIALECTS) {
  describe(`the specification's identifiers on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const get = (path: string, product: string, language = 'zh_CN') =>
      call(ctx.t.url, 'GET', `/dr/api/v1/auth/protocol/${path}`, { token: ctx.admin, headers: { Product: product, Language: language } });

    test('the fixture covers both products and the ids the issue names', () => {
      const views = fixture.views.map((v) => v.id);
      for (const id of ['View_DX_T_A_SK_AP_00', 'View_DX_T_A_SK_Special_04', 'View_Dog_PV_LAT_02']) assert.ok(views.includes(id), id);
      assert.deepEqual(
        fixture.procedures.map((p) => p.id),
        ['P0-0001', 'P0-0002', 'P0-0003', 'P0-0004'],
      );
      assert.ok(fixture.views.some((v) => v.product === 'VETDROS') && fixture.views.some((v) => v.product === 'DROS'));
    });

    test('patient types exist with their names and switches', async () => {
      for (const type of fixture.patientTypes) {
        const list = (await get('patient_type', type.product)).body.data.patient_type_list as {
          patient_type_id: string;
          patient_type_name: string;
          is_enabled: boolean;
        }[];
        const ours = list.find((t) => t.patient_type_id === type.id);
        assert.ok(ours, `${type.product} patient type ${type.id}`);
        if (type.name) assert.equal(ours.patient_type_name, type.name, type.id);
        if (type.is_enabled !== undefined) assert.equal(ours.is_enabled, type.is_enabled, type.id);
      }
    });

    test('body parts exist under their patient type with their names', async () => {
      for (const part of fixture.bodyParts) {
        const patientType = part.id.split('_')[0];
        const zh = (await get(`body_part?patient_type=${patientType}`, part.product)).body.data.body_part_list as {
          body_part_id: string;
          body_part_name: string;
        }[];
        const ours = zh.find((b) => b.body_part_id === part.id);
        assert.ok(ours, `${part.product} body part ${part.id}`);
        if (part.zh) assert.equal(ours.body_part_name, part.zh, part.id);
        if (part.en) {
          const en = (await get(`body_part?patient_type=${patientType}`, part.product, 'en_US')).body.data.body_part_list;
          assert.equal(en.find((b: { body_part_id: string }) => b.body_part_id === part.id).body_part_name, part.en, part.id);
        }
      }
    });

    test('procedures exist with their names, kind and views', async () => {
      for (const procedure of fixture.procedures) {
        const list = (await get('procedure?page_size=10000', procedure.product)).body.data.procedures as Record<string, unknown>[];
        const ours = list.find((p) => p.procedure_id === procedure.id);
        assert.ok(ours, `${procedure.product} procedure ${procedure.id}`);
        if (procedure.zh) assert.equal(ours.procedure_name, procedure.zh, procedure.id);
        if (procedure.en) assert.equal(ours.procedure_other_name, procedure.en, procedure.id);
        for (const field of ['body_part_id', 'procedure_type', 'procedure_category', 'protocol_laterality'] as const)
          if (procedure[field]) assert.equal(ours[field], procedure[field], `${procedure.id} ${field}`);
        if (procedure.views) {
          const views = (await get(`procedure/${procedure.id}/view`, procedure.product)).body.data.views as { view_id: string }[];
          for (const view of procedure.views)
            assert.ok(
              views.some((v) => v.view_id === view),
              `${procedure.id} holds ${view}`,
            );
        }
      }
    });

    test('views exist with their names, body part, region, pictograms and APR', async () => {
      for (const view of fixture.views) {
        const res = await get(`view/${view.id}`, view.product);
        assert.equal(res.status, 200, `${view.product} view ${view.id}: ${res.text}`);
        const ours = res.body.data;
        if (view.zh) assert.equal(ours.view_name, view.zh, view.id);
        if (view.body_part_id) assert.equal(ours.body_part_id, view.body_part_id, view.id);
        if (view.anatomic_region) assert.equal(ours.anatomic_region, view.anatomic_region, view.id);
        if (view.icon) assert.equal(ours.view_icon_name, view.icon, view.id);
        for (const pictogram of view.pictograms ?? []) {
          const file = await call(ctx.t.url, 'GET', `/dr/api/v1/pub${pictogram}`);
          assert.equal(file.status, 200, `${view.id}: ${pictogram}`);
          assert.match(file.text, /^<svg /, pictogram);
        }
        const apr = (await get(`view/${view.id}/apr`, view.product)).body.data;
        if (view.apr_category) assert.equal(apr.category, view.apr_category, view.id);
        const sizes = new Set(apr.exposures.map((e: { patient_size: string }) => e.patient_size));
        for (const size of fixture.patientSizes) assert.ok(sizes.has(size), `${view.id} has an exposure for ${size}`);
        // The view list of its body part shows it too (what a console browses).
        if (view.body_part_id) {
          const list = (await get(`view?body_part=${encodeURIComponent(view.body_part_id)}&page_size=10000`, view.product)).body.data.views;
          assert.ok(
            list.some((v: { view_id: string }) => v.view_id === view.id),
            `${view.id} in ${view.body_part_id}`,
          );
        }
      }
    });

    test('configuration keys exist with their type and category', async () => {
      const res = await call(ctx.t.url, 'GET', '/api/v1/system/configs', { token: ctx.admin });
      assert.equal(res.status, 200, res.text);
      for (const config of fixture.configs) {
        const ours = (res.body.data as { config_key: string; config_type: string; category: string }[]).find(
          (c) => c.config_key === config.key,
        );
        assert.ok(ours, config.key);
        assert.deepEqual([ours.config_type, ours.category], [config.type, config.category], config.key);
      }
    });

    test('roles exist by name and id, holding the permissions the user samples show', async () => {
      const res = await call(ctx.t.url, 'GET', '/api/v1/roles', { token: ctx.admin });
      assert.equal(res.status, 200, res.text);
      const ours = res.body.data.roles as { id: string; name: string; permissions: string[] }[];
      for (const role of fixture.roles) {
        const found = ours.find((r) => r.name === role.id);
        assert.ok(found, role.id);
        for (const permission of role.permissions) assert.ok(found.permissions.includes(permission), `${role.id} ${permission}`);
      }
      for (const id of fixture.roleIds)
        assert.ok(
          ours.some((r) => r.id === id),
          id,
        );
    });

    test('option groups answer, and the basic group holds the sample values', async () => {
      for (const group of fixture.optionGroups) {
        const res = await call(ctx.t.url, 'GET', `/dr/api/v1/auth/resource/options?group=${group}`, {
          token: ctx.admin,
          headers: { Language: 'en_US' },
        });
        assert.equal(res.status, 200, `${group}: ${res.text}`);
        assert.ok(res.body.data.option.length > 0, group);
        if (group === 'basic')
          for (const option of fixture.basicOptions)
            assert.ok(
              res.body.data.option.some((o: { text: string; value: string }) => o.value === option.value && o.text === option.text),
              `basic ${option.value}`,
            );
      }
    });

    test("the registration's enumerated values are accepted", async () => {
      const register = (over: Record<string, unknown>, product = 'DROS') =>
        call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, headers: { Product: product }, body: sampleStudy(over) });
      const { patient_sex, pregnancy_status, sex_neutered, study_type } = fixture.registrationEnums;
      assert.ok(patient_sex.length && pregnancy_status.length && sex_neutered.length && study_type.length, 'the fixture holds them');
      for (const sex of patient_sex) assert.equal((await register({ patient_sex: sex })).status, 200, `patient_sex ${sex}`);
      for (const status of pregnancy_status)
        assert.equal((await register({ patient_sex: 'F', pregnancy_status: status })).status, 200, `pregnancy_status ${status}`);
      for (const type of study_type) {
        const res = await register({ study_type: type });
        assert.equal(res.status, 200, `study_type ${type}: ${res.text}`);
        assert.equal(res.body.data.study_type, type);
      }
      for (const neutered of sex_neutered) {
        const res = await register(
          {
            patient_type: 'Dog',
            pregnancy_status: undefined,
            sex_neutered: neutered,
            views: [{ view_id: 'View_Dog_PV_VD_01', procedure_id: '' }],
          },
          'VETDROS',
        );
        assert.equal(res.status, 200, `sex_neutered ${neutered}: ${res.text}`);
        assert.equal(res.body.data.sex_neutered, neutered);
      }
    });

    test("the registration sample's view and procedure register together", async () => {
      assert.deepEqual(fixture.registration, { view_id: 'View_DX_T_A_SK_AP_00', procedure_id: 'P0-0002' });
      const res = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', {
        token: ctx.admin,
        body: sampleStudy({ views: [fixture.registration] }),
      });
      assert.equal(res.status, 200, res.text);
      const series = res.body.data.series[0];
      assert.equal(series.procedure_id, 'P0-0002');
      assert.equal(series.performed_protocol_code_meaning, '颅骨前后位 + 侧位');
      assert.equal(series.body_part, 'Human_SKULL');
      assert.deepEqual(
        series.images.map((i: { view_id: string; view_description: string }) => [i.view_id, i.view_description]),
        [['View_DX_T_A_SK_AP_00', '颅骨前后位']],
      );
      // The dog sample's views register on VETDROS in their body part.
      const dog = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', {
        token: ctx.admin,
        headers: { Product: 'VETDROS' },
        body: sampleStudy({
          patient_type: 'Dog',
          pregnancy_status: undefined,
          views: ['View_Dog_PV_LAT_02', 'View_Dog_PV_LAT_01', 'View_Dog_PV_VD_01'].map((view_id) => ({ view_id, procedure_id: '' })),
        }),
      });
      assert.equal(dog.status, 200, dog.text);
      assert.deepEqual(
        dog.body.data.series.map((s: { body_part: string; images: { view_description: string }[] }) => [
          s.body_part,
          s.images[0].view_description,
        ]),
        [
          ['Dog_Hip', '髋关节侧位'],
          ['Dog_Hip', '骨盆侧位'],
          ['Dog_Hip', '骨盆伸腿腹背位'],
        ],
      );
    });
  });
}
