import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';
import { DIALECTS, dropSchema, isolatedEnv } from './helpers.js';
import fs from 'node:fs';

/**
 * Recalibrated programmes reach an existing installation (issue 16 §2): on a start with a new
 * library, shipped exposure rows the site never edited take the library's values, and a row the
 * site edited keeps the site's.
 */
for (const dialect of DIALECTS) {
  describe(`protocol library upgrade on ${dialect}`, () => {
    test('unedited shipped programmes follow the library; edited ones stay', async () => {
      const env = isolatedEnv(dialect);
      const config = loadConfig(env);
      const key = (viewId: string) => ({ product: 'DROS', apr_id: viewId, work_station_id: 0, patient_size: 'Medium' });
      const old = JSON.stringify({ Common: { kV: 80, mA: 500, ms: 40, mAs: 20, Focus: 1 } });
      const site = JSON.stringify({ Common: { kV: 81, mA: 400, ms: 40, mAs: 16, Focus: 1 } });
      try {
        const first = await createServer(config);
        await first.close();
        const db = await openDatabase(config);
        const read = async (viewId: string) => {
          const k = key(viewId);
          return db.kysely
            .selectFrom('protocol_apr_exposures')
            .select(['config_object', 'updated_at'])
            .where('product', '=', k.product)
            .where('apr_id', '=', k.apr_id)
            .where('work_station_id', '=', k.work_station_id)
            .where('patient_size', '=', k.patient_size)
            .executeTakeFirstOrThrow();
        };
        const [unedited, edited] = ['View_DX_T_A_SK_AP_00', 'View_DX_T_A_AB_AP_00'];
        const shipped = (await read(unedited)).config_object;
        const write = async (viewId: string, config_object: string, updated_at: string | null) => {
          const k = key(viewId);
          await db.kysely
            .updateTable('protocol_apr_exposures')
            .set({ config_object, updated_at })
            .where('product', '=', k.product)
            .where('apr_id', '=', k.apr_id)
            .where('work_station_id', '=', k.work_station_id)
            .where('patient_size', '=', k.patient_size)
            .execute();
        };
        // As an earlier release left them: its programme unedited, and one the site changed.
        await write(unedited, old, null);
        await write(edited, site, new Date().toISOString());
        await db.kysely
          .updateTable('protocol_library_installs')
          .set({ digest: 'an earlier library' })
          .where('product', '=', 'DROS')
          .execute();

        const second = await createServer(config);
        await second.close();
        assert.equal((await read(unedited)).config_object, shipped, 'the unedited programme is the library’s again');
        assert.equal((await read(edited)).config_object, site, 'the site’s edit survives');
        await db.close();
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
