import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, call, sampleStudy, withServer } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const dialect of DIALECTS) {
  describe(`purge keeps every other study's files on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: ctx.admin, body });
    const blobs = () => ctx.t.server.services.imageFiles.blobs;
    /** A registered study with a stored DX; its blob keys with their content hashes. */
    const storedStudy = async () => {
      const study = (await dr('POST', 'study', sampleStudy({ patient_name: `purge${randomUUID().slice(0, 6)}` }))).body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      const keys = [`dicom/${uid}.dcm`, `thumbnail/${uid}.webp`];
      const hashes = await Promise.all(keys.map(async (k) => sha(await blobs().read(k))));
      return { studyId: study.study_id as string, uid, keys, hashes };
    };
    type Stored = Awaited<ReturnType<typeof storedStudy>>;
    const assertIntact = async (s: Stored, why: string) => {
      for (const [i, key] of s.keys.entries()) {
        assert.ok(await blobs().stat(key), `${why}: ${key} still stored`);
        assert.equal(sha(await blobs().read(key)), s.hashes[i], `${why}: ${key} unchanged`);
      }
      const download = await fetch(`${ctx.t.url}/api/v1/instances/${s.uid}/download`, {
        headers: { authorization: `Bearer ${ctx.admin}` },
      });
      assert.equal(download.status, 200, `${why}: still downloadable`);
      assert.equal(sha(Buffer.from(await download.arrayBuffer())), s.hashes[0]);
    };
    const assertGone = async (s: Stored) => {
      for (const key of s.keys) assert.equal(await blobs().stat(key), undefined, `${key} purged`);
    };

    test('purging one binned study deletes its files only: another binned study and live studies keep theirs', async () => {
      const [purged, binned, live] = [await storedStudy(), await storedStudy(), await storedStudy()];
      assert.equal((await dr('DELETE', 'study', [purged.studyId, binned.studyId])).status, 200);
      assert.equal((await dr('DELETE', 'recycle_bin/study', [purged.studyId])).status, 200);
      await assertGone(purged);
      await assertIntact(live, 'a live study');
      // Still in the bin: its files stay, and it can come back whole.
      for (const key of binned.keys) assert.ok(await blobs().stat(key), `binned study's ${key} kept`);
      assert.equal((await dr('POST', 'recycle_bin/study', [binned.studyId])).status, 200);
      await assertIntact(binned, 'a restored study');
    });

    test('a purge or restore naming live studies beside a binned one acts on the binned one only and names the others', async () => {
      const [binned, live] = [await storedStudy(), await storedStudy()];
      assert.equal((await dr('DELETE', 'study', [binned.studyId])).status, 200);
      // A live study named in a purge is refused, not deleted: purging is for the bin's studies only.
      const purge = await dr('DELETE', 'recycle_bin/study', [live.studyId, binned.studyId, binned.studyId]);
      assert.equal(purge.status, 404, purge.text);
      assert.equal(purge.body.code, '0x060007');
      assert.deepEqual(
        (purge.body.data.details as { field: string }[]).map((d) => d.field),
        [live.studyId],
        'only the live study is named as not in the bin',
      );
      assert.match(purge.body.description, /1 of 3 purged/);
      await assertGone(binned);
      await assertIntact(live, 'a live study named in a purge');
      assert.equal((await dr('GET', `study/${live.studyId}`)).status, 200);

      const restore = await dr('POST', 'recycle_bin/study', [live.studyId]);
      assert.equal(restore.status, 404, restore.text);
      assert.deepEqual(
        (restore.body.data.details as { field: string }[]).map((d) => d.field),
        [live.studyId],
      );
      await assertIntact(live, 'a live study named in a restore');
    });

    test("clearing the bin deletes the binned studies' files and none of the live ones", async () => {
      const [binnedA, binnedB, live] = [await storedStudy(), await storedStudy(), await storedStudy()];
      assert.equal((await dr('DELETE', 'study', [binnedA.studyId, binnedB.studyId])).status, 200);
      assert.equal((await dr('DELETE', 'recycle_bin/clear')).status, 200);
      await assertGone(binnedA);
      await assertGone(binnedB);
      await assertIntact(live, 'a live study after clear');
    });
  });

  describe(`study list date range bounds on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: ctx.admin, body });
    const STARTS = ['2024-01-10T08:00:00.000Z', '2024-05-10T08:00:00.000Z', '2024-09-10T08:00:00.000Z'];

    /** Three studies of one patient name, started in January, May and September 2024 (oldest first). */
    const spread = async (name: string): Promise<string[]> => {
      const ids: string[] = [];
      for (const start of STARTS) {
        const study = (await dr('POST', 'study', sampleStudy({ patient_name: name }))).body.data;
        await ctx.t.server.db.kysely
          .updateTable('studies')
          .set({ study_start_datetime: start })
          .where('study_id', '=', study.study_id)
          .execute();
        ids.push(study.study_id);
      }
      return ids;
    };
    const listed = async (list: string, name: string, range: string) => {
      const res = await dr('GET', `${list}?name=${encodeURIComponent(name)}&page_size=100${range}`);
      assert.equal(res.status, 200, res.text);
      const ids = (res.body.data.studies as { study_id: string }[]).map((s) => s.study_id);
      assert.equal(res.body.data.count, ids.length, `${range}: count matches the page`);
      return ids;
    };
    const q = (v: string) => encodeURIComponent(v);

    // Long names take the LIKE/trigram path, names of one or two characters the n-gram table.
    for (const [label, makeName] of [
      ['a long name', () => `range${randomUUID().slice(0, 8)}`],
      ['a two-character name', () => '甲乙'],
    ] as const) {
      test(`a range starting or ending between studies keeps exactly the studies inside it (${label})`, async () => {
        const name = makeName();
        const [jan, may, sep] = await spread(name);
        assert.deepEqual(await listed('study', name, ''), [sep, may, jan], 'newest first');
        assert.deepEqual(
          await listed('study', name, `&start_time=${q('2024-03-01T00:00:00.000Z')}`),
          [sep, may],
          'start between January and May',
        );
        assert.deepEqual(
          await listed('study', name, `&start_time=${q('2024-03-01T08:00:00.000+08:00')}&end_time=${q('2024-07-01T00:00:00Z')}`),
          [may],
          'both bounds between studies',
        );
        assert.deepEqual(await listed('study', name, `&end_time=${q('2024-03-01')}`), [jan], 'end between January and May');
        assert.deepEqual(await listed('study', name, `&start_time=${q(STARTS[1])}`), [sep, may], 'the start bound is inclusive');
        assert.deepEqual(
          await listed('study', name, `&start_time=${q('2024-05-10T08:00:00.001Z')}`),
          [sep],
          'a millisecond later excludes it',
        );
        assert.deepEqual(await listed('study', name, `&start_time=${q('2024-10-01')}`), [], 'after all of them');

        // The recycle bin lists with the same bounds.
        assert.equal((await dr('DELETE', 'study', [jan, may, sep])).status, 200);
        assert.deepEqual(await listed('recycle_bin/study', name, `&start_time=${q('2024-03-01')}`), [sep, may]);
        assert.deepEqual(await listed('recycle_bin/study', name, `&start_time=${q('2024-03-01')}&end_time=${q('2024-07-01')}`), [may]);
        assert.equal((await dr('DELETE', 'recycle_bin/study', [jan, may, sep])).status, 200);
      });
    }
  });
}
