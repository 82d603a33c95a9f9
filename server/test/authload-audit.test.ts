import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { DIALECTS, withServer } from './helpers.js';
import { AuditRepository, type AuditRecord } from '../src/modules/audit/repository.js';

// Issue 16: audit rows appended outside a caller's transaction are committed in groups (one
// chain lock and one commit for the rows that arrived meanwhile). Each append still resolves only
// once its own row is committed, the chain stays whole, and a row the database refuses fails alone.

function record(requestId: string, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    created_at: new Date().toISOString(),
    user_id: null,
    username: null,
    action: 'authload.test',
    resource_type: null,
    resource_id: null,
    method: 'GET',
    path: '/test',
    status_code: 200,
    outcome: 'success',
    source: 'Browser',
    ip: '127.0.0.1',
    request_id: requestId,
    detail: null,
    ...over,
  };
}

for (const dialect of DIALECTS) {
  describe(`audit group commit on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('concurrent appends are each committed when they resolve, in one unbroken chain', async () => {
      const audit = new AuditRepository(ctx.t.server.db);
      const batch = randomUUID();
      const ids = Array.from({ length: 40 }, (_, i) => `${batch}-${i}`);
      await Promise.all(
        ids.map(async (id) => {
          await audit.append(record(id));
          const row = await ctx.t.server.db.kysely.selectFrom('audit_logs').select('id').where('request_id', '=', id).executeTakeFirst();
          assert.ok(row, `${id} is committed once its append resolved`);
        }),
      );
      const verdict = await audit.verify();
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
    });

    test('a row the database refuses fails alone; the rows committed with it are kept', async () => {
      const audit = new AuditRepository(ctx.t.server.db);
      const batch = randomUUID();
      const bad = record(`${batch}-bad`, { action: null as unknown as string });
      const results = await Promise.allSettled([
        audit.append(record(`${batch}-a`)),
        audit.append(record(`${batch}-b`)),
        audit.append(bad),
        audit.append(record(`${batch}-c`)),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
      );
      const rows = await ctx.t.server.db.kysely
        .selectFrom('audit_logs')
        .select('request_id')
        .where('request_id', 'like', `${batch}%`)
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows.map((r) => r.request_id),
        [`${batch}-a`, `${batch}-b`, `${batch}-c`],
      );
      assert.equal((await audit.verify()).ok, true);
    });
  });
}
