import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { sql, type Kysely } from 'kysely';
import { createServer } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/index.js';
import { migrateBefore } from '../test-support/migrations.js';
import { rowHash, type AuditRecord } from '../src/db/audit-chain.js';
import { AuditRepository } from '../src/modules/audit/repository.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, isolatedEnv, login, sampleStudy } from './helpers.js';

/**
 * A database with studies, counted by migration 002's one row per (bin, status), and an audit
 * chain upgrades to migration 015 (striped counters, the chain appended by one database call on
 * PostgreSQL): its totals are intact and count on exactly, and new audit rows (non-ASCII text
 * included) link onto the old chain so that it verifies.
 */
for (const dialect of DIALECTS) {
  describe(`study counters upgrade (migration 015) on ${dialect}`, () => {
    test('existing totals survive the upgrade and later writes add to them', async () => {
      const env = isolatedEnv(dialect);
      const config = loadConfig(env);
      const db = await openDatabase(config);
      const k = db.kysely as unknown as Kysely<unknown>;
      const totals = async () => {
        const counted = await sql<{ key: string; n: number | string }>`
          select in_bin || '/' || study_status as key, sum(n) as n from study_counts group by in_bin, study_status`.execute(k);
        const real = await sql<{ key: string; n: number | string }>`
          select (case when deleted_at is null then 0 else 1 end) || '/' || study_status as key, count(*) as n
            from studies group by 1`.execute(k);
        const map = (rows: { key: string; n: number | string }[]) =>
          Object.fromEntries(rows.filter((r) => Number(r.n) !== 0).map((r) => [r.key, Number(r.n)]));
        return { counted: map(counted.rows), real: map(real.rows) };
      };
      try {
        await migrateBefore(db, '015');

        // Studies as an earlier release stored them: live and binned, in several statuses.
        const now = new Date().toISOString();
        await sql`insert into patients (patient_id, name, patient_type, product, created_at, updated_at)
          values ('UPG-1', 'Upgrade', 'Human', 'DROS', ${now}, ${now})`.execute(k);
        const statuses = ['Arrived', 'Arrived', 'Arrived', 'InProgress', 'Completed', 'Completed', 'Arrived', 'Completed'];
        for (const [i, status] of statuses.entries()) {
          await sql`insert into studies (study_id, study_instance_uid, patient_pk, product, accession_number, patient_id,
              patient_name, study_status, study_lock, study_type, study_start_datetime, create_time, updated_at, deleted_at, details)
            values (${`99010100000000${i}`}, ${`2.25.99${i}`}, (select id from patients where patient_id = 'UPG-1'), 'DROS', '', 'UPG-1',
              'Upgrade', ${status}, 'Unlocked', 'Normal', ${now}, ${now}, ${now}, ${i >= 6 ? now : null}, '{}')`.execute(k);
        }
        // An audit row written the earlier way, hashed here.
        const earlier: AuditRecord = {
          created_at: now,
          user_id: null,
          username: null,
          action: 'upgrade.test',
          resource_type: null,
          resource_id: null,
          method: 'GET',
          path: '/before',
          status_code: 200,
          outcome: 'success',
          source: 'Browser',
          ip: '127.0.0.1',
          request_id: 'before-015',
          detail: null,
        };
        await sql`insert into audit_logs (created_at, action, method, path, status_code, outcome, source, ip, request_id, prev_hash, hash)
          values (${now}, 'upgrade.test', 'GET', '/before', 200, 'success', 'Browser', '127.0.0.1', 'before-015', '',
            ${rowHash('', earlier)})`.execute(k);
        const old = await totals();
        assert.deepEqual(old.counted, { '0/Arrived': 3, '0/InProgress': 1, '0/Completed': 2, '1/Arrived': 1, '1/Completed': 1 });
        assert.deepEqual(old.counted, old.real);
        await db.close();

        // The next start applies 015; the totals are those of before, then follow the API's writes.
        const server = await createServer(config);
        const address = await server.app.listen({ host: '127.0.0.1', port: 0 });
        try {
          const upgraded = server.db.kysely as unknown as Kysely<unknown>;
          const after = async () => {
            const counted = await sql<{ key: string; n: number | string }>`
              select in_bin || '/' || study_status as key, sum(n) as n from study_counts group by in_bin, study_status`.execute(upgraded);
            return Object.fromEntries(counted.rows.filter((r) => Number(r.n) !== 0).map((r) => [r.key, Number(r.n)]));
          };
          assert.deepEqual(await after(), old.counted, 'totals preserved by the upgrade');
          const { token } = await login(address, 'admin', ADMIN_PASSWORD);
          const dr = (method: string, path: string, body?: unknown) => call(address, method, `/dr/api/v1/auth/${path}`, { token, body });
          const added = await Promise.all(
            Array.from({ length: 6 }, (_, i) => dr('POST', 'study', sampleStudy({ patient_id: `UPG-N${i}` }))),
          );
          assert.ok(added.every((r) => r.status === 200));
          assert.equal((await dr('DELETE', 'study', ['990101000000000', added[0]?.body.data.study_id])).status, 200);
          assert.equal((await dr('POST', 'recycle_bin/study', ['990101000000006'])).status, 200);
          assert.equal((await dr('DELETE', 'recycle_bin/study', ['990101000000007'])).status, 200);
          // Six registered, two binned, one restored, the binned Completed one purged.
          assert.deepEqual(await after(), { '0/Arrived': 3 + 6 - 2 + 1, '0/InProgress': 1, '0/Completed': 2, '1/Arrived': 2 });
          assert.equal((await dr('GET', 'study?page_size=1')).body.data.count, 11);

          const audit = new AuditRepository(server.db);
          await Promise.all([
            audit.append({ ...earlier, request_id: 'after-015-a', detail: '颅骨前后位 "quoted" \\ 🦴 \u2028', session_id: 'sess-1' }),
            audit.append({ ...earlier, request_id: 'after-015-b', user_id: 1, username: 'admin' }),
          ]);
          const verdict = await audit.verify();
          assert.equal(verdict.ok, true, JSON.stringify(verdict));
          assert.ok(verdict.rows >= 4, 'the earlier row, the API writes and the appends are in one chain');
        } finally {
          await server.close();
        }
      } finally {
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });
  });
}
