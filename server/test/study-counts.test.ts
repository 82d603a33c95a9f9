import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { DIALECTS, call, sampleStudy, withServer } from './helpers.js';

/**
 * The trigger-kept study totals (migration 002, striped over slots on PostgreSQL by 015) stay
 * exact while registrations, bin moves, restores, purges and status changes run at once on
 * several connections: per (bin, status) the counters' sum equals count(*) of the studies.
 */
for (const dialect of DIALECTS) {
  describe(`study counters under concurrent writes on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: ctx.admin, body });
    const register = async (tag: string): Promise<string> => {
      const res = await dr('POST', 'study', sampleStudy({ patient_name: tag, patient_id: `${tag}-${randomUUID().slice(0, 8)}` }));
      assert.equal(res.status, 200, res.text);
      return res.body.data.study_id as string;
    };
    const ok = async (method: string, path: string, body: unknown) => {
      const res = await dr(method, path, body);
      assert.equal(res.status, 200, res.text);
    };

    /** Counter sums and real counts per "bin/status", zero groups left out. */
    const tallies = async () => {
      const db = ctx.t.server.db.kysely;
      const counted = await db
        .selectFrom('study_counts')
        .select(['in_bin', 'study_status', (eb) => eb.fn.sum<number | string>('n').as('n')])
        .groupBy(['in_bin', 'study_status'])
        .execute();
      const real = await db
        .selectFrom('studies')
        .select([
          (eb) => eb.case().when('deleted_at', 'is', null).then(0).else(1).end().as('in_bin'),
          'study_status',
          (eb) => eb.fn.countAll<number>().as('n'),
        ])
        .groupBy(['in_bin', 'study_status'])
        .execute();
      const map = (rows: { in_bin: number | null; study_status: string; n: number | string }[]) =>
        Object.fromEntries(rows.filter((r) => Number(r.n) !== 0).map((r) => [`${Number(r.in_bin)}/${r.study_status}`, Number(r.n)]));
      return { counted: map(counted), real: map(real) };
    };
    const assertExact = async (when: string) => {
      const { counted, real } = await tallies();
      assert.deepEqual(counted, real, `counters after ${when}`);
      const live = Object.entries(real)
        .filter(([k]) => k.startsWith('0/'))
        .reduce((s, [, n]) => s + n, 0);
      assert.equal((await dr('GET', 'study?page_size=1')).body.data.count, live, `worklist total after ${when}`);
    };

    test('registrations, bin moves, restores, purges and status changes at once keep exact totals', async () => {
      const tag = `cc${randomUUID().slice(0, 6)}`;
      const first = await Promise.all(Array.from({ length: 40 }, () => register(tag)));
      await assertExact('40 concurrent registrations');

      // Bin moves of different sizes while more registrations arrive.
      const toBin = first.slice(0, 24);
      const more = await Promise.all([
        ...[0, 3, 6, 9, 12, 15, 18, 21].map((i) => ok('DELETE', 'study', toBin.slice(i, i + 3))),
        ...Array.from({ length: 12 }, () => register(tag)),
      ]);
      await assertExact('bin moves during registrations');

      // Restores, purges, status changes (a statement of their own, as acquisition makes them) and registrations at once.
      const db = ctx.t.server.db.kysely;
      const completed = first.slice(30, 40);
      await Promise.all([
        ...[0, 2, 4, 6].map((i) => ok('POST', 'recycle_bin/study', toBin.slice(i, i + 2))),
        ...[12, 15, 18].map((i) => ok('DELETE', 'recycle_bin/study', toBin.slice(i, i + 3))),
        ...completed.map((id) => db.updateTable('studies').set({ study_status: 'Completed' }).where('study_id', '=', id).execute()),
        ...Array.from({ length: 12 }, () => register(tag)),
        ok('DELETE', 'study', [first[24], first[25]]),
      ]);
      await assertExact('restores, purges, status changes and registrations');

      // Moving binned studies that changed status, and a status change to the same status (no net change).
      await Promise.all([
        ok('DELETE', 'study', completed.slice(0, 5)),
        db.updateTable('studies').set({ study_status: 'Completed' }).where('study_id', 'in', completed.slice(5)).execute(),
        ok('POST', 'recycle_bin/study', [first[24]]),
      ]);
      await assertExact('binning completed studies');
      assert.equal(more.filter((m) => typeof m === 'string').length, 12);

      if (dialect === 'postgres') {
        const slots = await sql<{ n: number }>`select count(distinct slot)::int as n from study_counts`.execute(db);
        assert.ok((slots.rows[0]?.n ?? 0) >= 2, 'concurrent connections counted in different slots');
      }
    });
  });
}
