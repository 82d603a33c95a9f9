import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { createServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';
import { migrateBefore } from '../test-support/migrations.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, isolatedEnv, login } from './helpers.js';

/** Patients the console registered before migration 019 are patients of the diagnosis face after it. */
for (const dialect of DIALECTS) {
  describe(`upgrading console patients to patient records on ${dialect}`, () => {
    test('a patient row from before 019 is listed, read, updated and numbered around', async () => {
      const env = isolatedEnv(dialect);
      const config = loadConfig(env);
      const db = await openDatabase(config);
      const period = new Date().toISOString().slice(0, 7).replace('-', '');
      try {
        await migrateBefore(db, '019');
        const now = new Date().toISOString();
        const row = { name: '老患者', english_name: '', former_name: '', birth_date: '1950-07-01T00:00:00.000Z', patient_type: 'Human' };
        const rest = { sex_neutered: '', owner_name: '', chip_number: '', variety: '', product: 'DROS', created_at: now, updated_at: now };
        await db.kysely
          .insertInto('patients')
          .values([
            { ...row, ...rest, patient_id: 'OLD-0001', sex: 'F' },
            // The console used what the new numbering would give first: it is skipped.
            { ...row, ...rest, patient_id: `P${period}001`, sex: '', name: '占号' },
          ])
          .execute();
      } finally {
        await db.close();
      }
      const server = await createServer(config);
      try {
        const url = await server.app.listen({ host: '127.0.0.1', port: 0 });
        const token = (await login(url, 'admin', ADMIN_PASSWORD)).token;
        const listed = await call(url, 'GET', '/api/v1/patients?search=OLD-0001', { token });
        assert.equal(listed.status, 200, listed.text);
        const old = listed.body.data.items[0];
        assert.equal(old.name, '老患者');
        assert.equal(old.gender, 'female');
        assert.equal(old.birth_date, '1950-07-01');
        assert.equal(old.phone, null);
        const detail = await call(url, 'GET', `/api/v1/patients/${old.id}`, { token });
        assert.deepEqual([detail.body.data.allergies, detail.body.data.medical_history], [[], {}]);
        const updated = await call(url, 'PUT', `/api/v1/patients/${old.id}`, { token, body: { phone: '13800000000' } });
        assert.equal(updated.body.data.phone, '13800000000');
        const made = await call(url, 'POST', '/api/v1/patients', { token, body: { name: '新患者' } });
        assert.equal(made.status, 201, made.text);
        assert.equal(made.body.data.patient_no, `P${period}002`);
      } finally {
        await server.close();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
