import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { createServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';
import { migrateBefore } from '../test-support/migrations.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, isolatedEnv, login } from './helpers.js';

/**
 * A database installed by the earlier library (its own numbering and animal view ids, an edited
 * exposure programme) upgrades to the specification's identifiers: migration 012 re-keys, the
 * start refreshes names and adds what is new, the edited programme stays; a restart with the
 * same library does not install it again.
 */
for (const dialect of DIALECTS) {
  describe(`upgrading the earlier protocol library on ${dialect}`, () => {
    test('old ids take the specification meanings; an edited exposure moves with its view', async () => {
      const env = isolatedEnv(dialect);
      const edited = { Common: { kV: 66, mA: 100, ms: 50, mAs: 5, Focus: 0 } };
      const config = loadConfig(env);
      const db = await openDatabase(config);
      try {
        await migrateBefore(db, '012');
        const k = db.kysely;
        const common = { sort: 1, is_enabled: 1 as const, is_pre_install: 1 as const };
        const view = (product: string, viewId: string, patientType: string, bodyPart: string, zh: string) => ({
          ...common,
          product,
          view_id: viewId,
          patient_type: patientType,
          body_part_id: bodyPart,
          name_en: viewId,
          name_zh: zh,
          view_position: 'AP',
          anatomic_region: 'SKULL',
          laterality: 'U',
          apr_category: 'SKULLAP',
          icon: `${patientType}/${viewId}.svg`,
          work_station_id: 0,
          modality: 'DX',
          config_object: '{}',
        });
        await k
          .insertInto('protocol_views')
          .values([
            view('DROS', 'View_DX_T_A_SK_AP_00', 'Human', 'Human_SKULL', '颅骨前后位'),
            view('DROS', 'View_DX_T_A_SK_LAT_00', 'Human', 'Human_SKULL', '颅骨侧位'),
            view('DROS', 'View_DX_T_A_SK_Towne_00', 'Human', 'Human_SKULL', '颅骨汤氏位'),
            view('VETDROS', 'View_DX_V_DOG_PV_VDEXT_00', 'Dog', 'Dog_PELVIS', '骨盆腹背位（后肢伸展）'),
          ])
          .execute();
        const procedure = (procedureId: string, en: string) => ({
          ...common,
          product: 'DROS',
          procedure_id: procedureId,
          patient_type: 'Human',
          body_part_id: 'Human_SKULL',
          name_en: en,
          name_zh: en,
          procedure_type: 'NORMAL' as const,
          procedure_category: 'Adult',
          protocol_laterality: 'U',
          fast_search: 0 as const,
          modality: 'DX',
        });
        await k
          .insertInto('protocol_procedures')
          .values([procedure('P0-0001', 'Skull AP + LAT'), procedure('P0-0009', 'Skull Towne')])
          .execute();
        await k
          .insertInto('protocol_procedure_views')
          .values([
            { product: 'DROS', procedure_id: 'P0-0001', view_id: 'View_DX_T_A_SK_AP_00', sort: 1 },
            { product: 'DROS', procedure_id: 'P0-0001', view_id: 'View_DX_T_A_SK_LAT_00', sort: 2 },
            { product: 'DROS', procedure_id: 'P0-0009', view_id: 'View_DX_T_A_SK_Towne_00', sort: 1 },
          ])
          .execute();
        await k
          .insertInto('protocol_body_parts')
          .values({
            ...common,
            product: 'VETDROS',
            body_part_id: 'Dog_PELVIS',
            patient_type: 'Dog',
            name_en: 'Pelvis',
            name_zh: '骨盆',
            category: 'DX',
          })
          .execute();
        await k
          .insertInto('protocol_apr_exposures')
          .values({
            product: 'VETDROS',
            apr_id: 'View_DX_V_DOG_PV_VDEXT_00',
            work_station_id: 0,
            patient_size: 'Medium',
            config_object: JSON.stringify(edited),
            updated_at: new Date().toISOString(),
            updated_by: 1,
          })
          .execute();
      } finally {
        await db.close();
      }

      const server = await createServer(config);
      try {
        const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
        const token = (await login(url, 'admin', ADMIN_PASSWORD)).token;
        const get = (path: string, product: string) =>
          call(url, 'GET', `/dr/api/v1/auth/protocol/${path}`, { token, headers: { Product: product, Language: 'zh_CN' } });
        const procedures = (await get('procedure?patient_type=Human&body_part=Human_SKULL&page_size=100', 'DROS')).body.data.procedures;
        const named = (id: string) => procedures.find((p: { procedure_id: string }) => p.procedure_id === id)?.procedure_name;
        assert.deepEqual(['P0-0001', 'P0-0002', 'P0-0003', 'P0-0004'].map(named), [
          '颅骨汤氏位',
          '颅骨前后位 + 侧位',
          '颅骨后前位 + 侧位',
          '颅骨前后位',
        ]);
        const viewsOf = async (id: string) =>
          (await get(`procedure/${id}/view`, 'DROS')).body.data.views.map((v: { view_id: string }) => v.view_id);
        assert.deepEqual(await viewsOf('P0-0001'), ['View_DX_T_A_SK_Special_04']);
        assert.deepEqual(await viewsOf('P0-0002'), ['View_DX_T_A_SK_AP_00', 'View_DX_T_A_SK_LAT_00']);
        assert.equal((await get('view/View_DX_T_A_SK_LAT_00', 'DROS')).body.data.view_name, '颅骨左侧位', 'names are refreshed');
        assert.equal((await get('view/View_DX_T_A_SK_Towne_00', 'DROS')).status, 404);
        const dog = await get('view/View_Dog_PV_VD_01', 'VETDROS');
        assert.equal(dog.status, 200, dog.text);
        assert.deepEqual([dog.body.data.view_name, dog.body.data.body_part_id], ['骨盆伸腿腹背位', 'Dog_Hip']);
        assert.equal((await get('view/View_DX_V_DOG_PV_VDEXT_00', 'VETDROS')).status, 404);
        const apr = (await get('apr/View_Dog_PV_VD_01', 'VETDROS')).body.data.exposures;
        const medium = apr.find(
          (e: { work_station_id: number; patient_size: string }) => e.work_station_id === 0 && e.patient_size === 'Medium',
        );
        assert.deepEqual(medium.config_object, edited, 'the edited programme is kept');
        assert.equal(apr.length, 8, 'the missing rows are added');
        const parts = (await get('body_part?patient_type=Dog', 'VETDROS')).body.data.body_part_list.map(
          (b: { body_part_id: string }) => b.body_part_id,
        );
        assert.ok(parts.includes('Dog_Hip') && !parts.includes('Dog_PELVIS'), parts.join());
      } finally {
        await server.close();
      }

      // A restart with the same library installs nothing again (its digest is kept, not sealed away).
      try {
        const db2 = await openDatabase(config);
        try {
          await db2.kysely
            .updateTable('protocol_views')
            .set({ name_zh: 'changed behind the library' })
            .where('product', '=', 'DROS')
            .where('view_id', '=', 'View_DX_T_A_SK_AP_00')
            .execute();
        } finally {
          await db2.close();
        }
        const again = await createServer(config);
        try {
          const url = await again.app.listen({ host: '127.0.0.1', port: 0 });
          const token = (await login(url, 'admin', ADMIN_PASSWORD)).token;
          const res = await call(url, 'GET', '/dr/api/v1/auth/protocol/view/View_DX_T_A_SK_AP_00', { token });
          assert.equal(res.body.data.view_name, 'changed behind the library');
        } finally {
          await again.close();
        }
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
