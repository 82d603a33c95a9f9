import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/index.js';
import { Migrator, type Kysely } from 'kysely';
import { migrateToLatest, migrationsFor } from '../src/db/migrate.js';
import { taskStatus } from '../src/modules/dicom-send/store-repository.js';
import { defineJobKind, retryDelay, type JobKind } from '../src/modules/jobs/kinds.js';
import { JobsRepository } from '../src/modules/jobs/repository.js';
import { JobRunner } from '../src/modules/jobs/runner.js';
import { DIALECTS, PG_URL, dropSchema, until } from './helpers.js';

const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('back-off doubles from the base and stops at the cap', () => {
  const backoff = { baseMs: 100, maxMs: 800 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 30].map((n) => retryDelay(n, backoff)),
    [100, 200, 400, 800, 800, 800, 800],
  );
  assert.equal(retryDelay(0, backoff), 100, 'no attempt yet: the base');
  assert.equal(retryDelay(3, { baseMs: 10_000, maxMs: 600_000 }), 40_000);
});

for (const dialect of DIALECTS) {
  describe(`job runner on ${dialect}`, () => {
    let db: Db;
    let repo: JobsRepository;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-jobs-'));
    const schema = dialect === 'postgres' ? `t_${randomUUID().replace(/-/g, '').slice(0, 20)}` : undefined;
    const runners: JobRunner[] = [];
    before(async () => {
      db = await openDatabase({ dataDir, databaseUrl: dialect === 'postgres' ? PG_URL : undefined, databaseSchema: schema });
      await migrateToLatest(db);
      repo = new JobsRepository(db);
    });
    after(async () => {
      for (const r of runners) await r.stop();
      await db.close();
      await dropSchema(schema);
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    /** A fresh kind name per test, so tests do not see each other's jobs. */
    const kindName = () => `test.${randomUUID().slice(0, 8)}`;
    function kind<P>(over: Partial<JobKind<P>> & Pick<JobKind<P>, 'run'>): JobKind<P> {
      return defineJobKind<P>({
        name: kindName(),
        concurrency: 4,
        maxAttempts: 3,
        backoff: { baseMs: 50, maxMs: 100 },
        leaseMs: 5_000,
        ...over,
      });
    }
    /** A runner with one kind registered (and optionally a second), stopped after the suite. */
    function runner<P, Q = never>(k: JobKind<P>, node = randomUUID(), other?: JobKind<Q>): JobRunner {
      const r = new JobRunner(repo, { node, pollMs: 50, notReadyMs: 20 });
      r.register(k);
      if (other) r.register(other);
      runners.push(r);
      return r;
    }
    const row = async (id: number) => (await repo.byId(id))!;
    const add = async (name: string, n: number, runAt = iso(Date.now())) =>
      repo.insert(
        Array.from({ length: n }, (_, i) => ({ queue: name, payload: JSON.stringify({ i }), job_key: null, run_at: runAt })),
        iso(Date.now()),
      );

    test('claim: due jobs only, each to one owner, with a lease; a lease that ran out is taken over', async () => {
      const name = kindName();
      const now = Date.now();
      const [a, b, c] = await add(name, 3, iso(now)); // due exactly at `now`, whatever the clock reads by then
      const [later] = await add(name, 1, iso(now + 60_000));
      const first = await repo.claim(name, iso(now), iso(now + 1_000), 2, 'node/A');
      assert.deepEqual(
        first.map((r) => r.id),
        [a, b],
      );
      assert.ok(
        first.every((r) => r.state === 'running' && r.locked_by === 'node/A' && r.attempts === 1 && r.locked_until === iso(now + 1_000)),
      );
      assert.deepEqual(
        (await repo.claim(name, iso(now), iso(now + 1_000), 10, 'node/B')).map((r) => r.id),
        [c],
        'the rest, not the future one',
      );
      assert.deepEqual(await repo.claim(name, iso(now), iso(now + 1_000), 10, 'node/B'), []);
      assert.equal((await row(later)).state, 'queued');
      // A's process died: after its lease, B takes its jobs, counting another attempt.
      const taken = await repo.claim(name, iso(now + 1_001), iso(now + 5_000), 10, 'node/B');
      assert.deepEqual(taken.map((r) => r.id).sort(), [a, b, c].sort());
      assert.ok(taken.filter((r) => r.id !== c).every((r) => r.attempts === 2 && r.locked_by === 'node/B'));
      // A comes back: its outcome no longer counts.
      assert.equal(await repo.settle(a, 'node/A', { state: 'done' }), false);
      assert.equal((await row(a)).state, 'running');
    });

    test('concurrent claims never hand one job to two owners', async () => {
      const name = kindName();
      const ids = await add(name, 40);
      const now = iso(Date.now());
      const claims = await Promise.all(
        Array.from({ length: 4 }, (_, i) => repo.claim(name, now, iso(Date.now() + 10_000), 15, `node/${i}`)),
      );
      const claimed = claims.flat().map((r) => r.id);
      assert.equal(new Set(claimed).size, claimed.length, 'no job twice');
      assert.deepEqual(
        [...claimed].sort((x, y) => x - y),
        ids,
        'every job once',
      );
    });

    test('enqueue in a transaction that rolls back leaves no job; a key is queued once', async () => {
      const k = kind<{ n: number }>({ run: async () => undefined });
      const r = runner(k);
      await db.kysely
        .transaction()
        .execute(async (trx) => {
          await r.enqueue(k, [{ n: 1 }], { trx, keys: ['one'] });
          throw new Error('roll back');
        })
        .catch(() => undefined);
      assert.equal(await repo.byKey(k.name, 'one'), undefined);
      assert.equal((await r.enqueue(k, [{ n: 1 }], { keys: ['one'] })).length, 1);
      assert.equal((await r.enqueue(k, [{ n: 2 }], { keys: ['one'] })).length, 0, 'the key is taken');
      assert.equal(JSON.parse((await repo.byKey(k.name, 'one'))!.payload).n, 1);
    });

    test('a failing job is retried after a growing back-off and fails after its max attempts', async () => {
      const attempts: number[] = [];
      const k = kind<Record<string, never>>({
        maxAttempts: 3,
        backoff: { baseMs: 150, maxMs: 300 },
        run: async () => {
          attempts.push(Date.now());
          throw new Error('peer away');
        },
      });
      const r = runner(k);
      await r.start();
      const [id] = await r.enqueue(k, [{}]);
      const failed = await until('the job failed', async () => ((await row(id)).state === 'failed' ? row(id) : undefined));
      assert.equal(attempts.length, 3, 'three attempts, no fourth');
      assert.equal(failed.attempts, 3);
      assert.equal(failed.last_error, 'peer away (gave up after 3 attempts)');
      assert.ok(failed.completed_at);
      const gaps = [attempts[1] - attempts[0], attempts[2] - attempts[1]];
      assert.ok(gaps[0] >= 150 && gaps[1] >= 300, `gaps ${gaps.join(', ')} ms follow 150, 300`);
      await sleep(500);
      assert.equal(attempts.length, 3);
    });

    test('retry() schedules the next attempt after the back-off; fail() ends at once', async () => {
      let seen = 0;
      const k = kind<{ fail: boolean }>({
        backoff: { baseMs: 60_000, maxMs: 120_000 },
        run: async ([job]) => {
          seen += 1;
          if (job.payload.fail) await job.fail('refused');
          else await job.retry('busy', 'log text');
        },
      });
      const r = runner(k);
      await r.start();
      const before = Date.now();
      const [retried, failed] = await r.enqueue(k, [{ fail: false }, { fail: true }]);
      const queued = await until('retry scheduled', async () => {
        const x = await row(retried);
        return x.state === 'queued' && x.attempts === 1 ? x : undefined;
      });
      const delay = Date.parse(queued.run_at) - before;
      assert.ok(delay >= 60_000 && delay < 62_000, `next attempt in ${delay} ms`);
      assert.equal(queued.last_error, 'busy');
      assert.equal(queued.result, 'log text');
      const ended = await until('failed', async () => {
        const x = await row(failed);
        return x.state === 'failed' ? x : undefined;
      });
      assert.equal(ended.last_error, 'refused');
      assert.equal(ended.attempts, 1);
      assert.equal(seen, 2);
    });

    test('cancel: a queued job never runs; a running one is aborted', async () => {
      let ran = 0;
      const k = kind<{ wait: boolean }>({
        run: async ([job]) => {
          ran += 1;
          if (!job.payload.wait) return;
          await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
          throw new Error('aborted');
        },
      });
      const r = runner(k);
      const [future] = await r.enqueue(k, [{ wait: false }], { runAt: iso(Date.now() + 60_000) });
      await r.start();
      assert.equal(await r.cancel(future), 'cancelled');
      const [running] = await r.enqueue(k, [{ wait: true }]);
      await until('running', async () => ((await row(running)).state === 'running' && ran === 1 ? true : undefined));
      assert.equal(await r.cancel(running), 'running');
      const done = await until('cancelled', async () => {
        const x = await row(running);
        return x.state === 'cancelled' ? x : undefined;
      });
      assert.equal(done.cancel_requested, 1);
      assert.equal((await row(future)).state, 'cancelled');
      assert.equal(ran, 1, 'the cancelled queued job never ran');
    });

    test('a cancel asked by another process reaches the running job at its next lease renewal', async () => {
      const k = kind<Record<string, never>>({
        leaseMs: 300,
        run: async ([job]) => {
          await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
          throw new Error('aborted');
        },
      });
      const r = runner(k);
      await r.start();
      const [id] = await r.enqueue(k, [{}]);
      await until('running', async () => ((await row(id)).state === 'running' ? true : undefined));
      await repo.cancel(id, iso(Date.now()));
      await until('cancelled', async () => ((await row(id)).state === 'cancelled' ? true : undefined), 5_000);
    });

    test('start releases what an earlier run of this node held, not what other nodes hold', async () => {
      const node = randomUUID();
      const ran: number[] = [];
      const k = kind<{ i: number }>({
        run: async ([job]) => {
          ran.push(job.id);
        },
      });
      const [mine, theirs] = await add(k.name, 2);
      const far = iso(Date.now() + 3_600_000);
      await db.kysely
        .updateTable('jobs')
        .set({ state: 'running', attempts: 1, locked_by: `${node}/old-boot`, locked_until: far })
        .where('id', '=', mine)
        .execute();
      await db.kysely
        .updateTable('jobs')
        .set({ state: 'running', attempts: 1, locked_by: `${randomUUID()}/boot`, locked_until: far })
        .where('id', '=', theirs)
        .execute();
      const r = runner(k, node);
      await r.start();
      const done = await until('the interrupted job done', async () => {
        const x = await row(mine);
        return x.state === 'done' ? x : undefined;
      });
      assert.equal(done.attempts, 2);
      assert.deepEqual(ran, [mine]);
      assert.equal((await row(theirs)).state, 'running', "another node's lease is left to run out");
    });

    test('a job claimed again after its last attempt died with the process fails without running', async () => {
      let ran = 0;
      const k = kind<Record<string, never>>({
        maxAttempts: 2,
        run: async () => {
          ran += 1;
        },
      });
      const [id] = await add(k.name, 1);
      await db.kysely
        .updateTable('jobs')
        .set({ state: 'running', attempts: 2, locked_by: 'dead/boot', locked_until: iso(Date.now() - 1), last_error: 'interrupted' })
        .where('id', '=', id)
        .execute();
      const r = runner(k);
      await r.start();
      const failed = await until('failed', async () => {
        const x = await row(id);
        return x.state === 'failed' ? x : undefined;
      });
      assert.equal(failed.last_error, 'interrupted (gave up after 2 attempts)');
      assert.equal(ran, 0);
    });

    test('each kind runs at most its concurrency at once; progress is recorded; done jobs can be removed', async () => {
      let now = 0;
      let most = 0;
      const slow = kind<{ i: number }>({
        concurrency: 2,
        run: async ([job]) => {
          now += 1;
          most = Math.max(most, now);
          await job.progress(0.5);
          await sleep(60);
          now -= 1;
        },
      });
      const removed = kind<{ i: number }>({ removeWhenDone: true, run: async () => undefined });
      const r = runner(slow, undefined, removed);
      await r.start();
      const ids = await r.enqueue(
        slow,
        Array.from({ length: 6 }, (_, i) => ({ i })),
      );
      const [gone] = await r.enqueue(removed, [{ i: 0 }]);
      let sawProgress = false;
      await until('all done', async () => {
        const rows = await Promise.all(ids.map(row));
        sawProgress ||= rows.some((x) => x.state === 'running' && x.progress === 0.5);
        return rows.every((x) => x.state === 'done' && x.progress === 1) ? true : undefined;
      });
      assert.equal(most, 2);
      assert.ok(sawProgress, 'a running job showed its progress');
      await until("the removed kind's job deleted", async () => ((await repo.byId(gone)) ? undefined : true));
    });

    test('queue figures for health: counts by kind and state, the oldest due job, stale leases', async () => {
      const name = kindName();
      const now = Date.now();
      const [a, b] = await add(name, 3, iso(now - 30_000));
      await add(name, 1, iso(now + 60_000));
      await repo.claim(name, iso(now), iso(now - 1), 1, 'dead/boot');
      await db.kysely.updateTable('jobs').set({ state: 'failed' }).where('id', '=', b).execute();
      const f = await repo.figures(iso(now));
      const mine = f.counts
        .filter((c) => c.kind === name)
        .map((c) => [c.state, c.n])
        .sort();
      assert.deepEqual(mine, [
        ['failed', 1],
        ['queued', 2],
        ['running', 1],
      ]);
      assert.deepEqual(
        f.oldestDue.filter((o) => o.kind === name).map((o) => o.run_at),
        [iso(now - 30_000)],
      );
      assert.ok(f.staleRunning >= 1);
      await db.kysely.deleteFrom('jobs').where('id', '=', a).execute();
    });

    test('a kind that is not ready waits; a group shares one run', async () => {
      let ready = false;
      const calls: number[][] = [];
      const k = kind<{ group: string }>({
        ready: () => ready,
        groupBy: (p) => p.group,
        run: async (jobs) => {
          calls.push(jobs.map((j) => j.id));
        },
      });
      const r = runner(k);
      await r.start();
      const ids = await r.enqueue(k, [{ group: 'a' }, { group: 'a' }, { group: 'b' }]);
      await sleep(200);
      assert.equal(calls.length, 0, 'not ready: nothing ran');
      ready = true;
      await until('done', async () => ((await Promise.all(ids.map(row))).every((x) => x.state === 'done') ? true : undefined));
      assert.deepEqual(calls.map((c) => c.length).sort(), [1, 2]);
    });
  });
}

for (const dialect of DIALECTS) {
  test(`migration 007 moves the send queue into jobs with task ids, states and leases on ${dialect}`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-jobs-'));
    const schema = dialect === 'postgres' ? `t_${randomUUID().replace(/-/g, '').slice(0, 20)}` : undefined;
    const db = await openDatabase({ dataDir, databaseUrl: dialect === 'postgres' ? PG_URL : undefined, databaseSchema: schema });
    try {
      const provider = { getMigrations: async () => migrationsFor(db.dialect) };
      const migrator = new Migrator({ db: db.kysely, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
      assert.equal((await migrator.migrateTo('006_store_task_owner')).error, undefined);
      const old = db.kysely as unknown as Kysely<{ store_tasks: Record<string, unknown> }>;
      const base = {
        image_pk: 7,
        study_pk: 3,
        sop_instance_uid: '1.2.3',
        pacs_node_id: 2,
        destination: 'PACS1',
        patient_name: 'N',
        patient_id: 'P',
        priority: 'Medium',
        created_at: '2025-01-01T00:00:00.000Z',
        updated_at: '2025-01-01T00:00:00.000Z',
        last_error: '',
        output: '',
        locked_until: null,
        locked_by: '',
        completed_at: null,
      };
      await old
        .insertInto('store_tasks')
        .values([
          { ...base, task_id: 'pending', status: 'PENDING', attempts: 0, next_attempt_at: '2025-01-01T00:00:00.000Z' },
          {
            ...base,
            task_id: 'retrying',
            status: 'RETRYING',
            attempts: 2,
            next_attempt_at: '2025-01-01T00:05:00.000Z',
            last_error: 'refused',
          },
          {
            ...base,
            task_id: 'sending',
            status: 'SENDING',
            attempts: 1,
            next_attempt_at: '2025-01-01T00:00:00.000Z',
            locked_until: '2025-01-01T00:01:00.000Z',
            locked_by: 'n/b',
          },
          {
            ...base,
            task_id: 'done',
            status: 'COMPLETED',
            attempts: 1,
            next_attempt_at: '2025-01-01T00:00:00.000Z',
            output: 'I: log',
            completed_at: '2025-01-01T00:00:09.000Z',
          },
          {
            ...base,
            task_id: 'failed',
            status: 'FAILED',
            attempts: 1,
            next_attempt_at: '2025-01-01T00:00:00.000Z',
            last_error: 'rejected',
          },
        ])
        .execute();
      await migrateToLatest(db);
      const rows = await db.kysely.selectFrom('jobs').selectAll().orderBy('id').execute();
      assert.deepEqual(
        rows.map((r) => [r.queue, r.job_key, r.state, r.attempts]),
        [
          ['dicom.store', 'pending', 'queued', 0],
          ['dicom.store', 'retrying', 'queued', 2],
          ['dicom.store', 'sending', 'running', 1],
          ['dicom.store', 'done', 'done', 1],
          ['dicom.store', 'failed', 'failed', 1],
        ],
      );
      assert.deepEqual(
        rows.map((r) => taskStatus(r)),
        ['QUEUING', 'QUEUING', 'SENDING', 'COMPLETED', 'FAILED'],
      );
      assert.deepEqual([rows[1].run_at, rows[1].last_error], ['2025-01-01T00:05:00.000Z', 'refused']);
      assert.deepEqual([rows[2].locked_by, rows[2].locked_until], ['n/b', '2025-01-01T00:01:00.000Z']);
      assert.deepEqual([rows[3].result, rows[3].completed_at], ['I: log', '2025-01-01T00:00:09.000Z']);
      assert.deepEqual(JSON.parse(rows[0].payload), {
        imagePk: 7,
        studyPk: 3,
        sopInstanceUid: '1.2.3',
        pacsNodeId: 2,
        destination: 'PACS1',
        patientName: 'N',
        patientId: 'P',
        priority: 'Medium',
      });
      await assert.rejects(old.selectFrom('store_tasks').selectAll().execute(), 'store_tasks is gone');
    } finally {
      await db.close();
      await dropSchema(schema);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
