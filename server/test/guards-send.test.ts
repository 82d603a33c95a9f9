import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DimseServer } from '../src/dimse/scp.js';
import { retryDelay } from '../src/modules/jobs/kinds.js';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, call, sampleStudy, until, withServer } from './helpers.js';

/**
 * The send queue against a peer that takes the association but refuses objects with a failure
 * status: nothing refused may count as sent, and the retry schedule doubles up to its cap.
 */
const RETRY = { base: 400, max: 1600, attempts: 5 };
const QUEUE_ENV = {
  STORE_RETRY_BASE_MS: String(RETRY.base),
  STORE_RETRY_MAX_MS: String(RETRY.max),
  STORE_MAX_ATTEMPTS: String(RETRY.attempts),
  STORE_POLL_MS: '100',
  DICOM_TIMEOUT_MS: '3000',
  STORE_LEASE_MS: '5000',
};

/** Our own SCP answering each C-STORE with the status `answer` gives for its SOP Instance UID. */
async function refusingPeer(answer: (sopInstanceUid: string) => { status: number; comment?: string }) {
  const received: { uid: string; at: number }[] = [];
  const scp = new DimseServer({
    aet: 'REFUSER',
    admit: async () => ({ accepted: true, mayStore: true }),
    onStore: async (object) => {
      received.push({ uid: object.sopInstanceUid, at: Date.now() });
      return answer(object.sopInstanceUid);
    },
  });
  const port = await scp.listen(0, '127.0.0.1');
  return { port, received, close: () => scp.close() };
}

const retryDelayMs = (attempts: number, baseMs: number, maxMs: number) => retryDelay(attempts, { baseMs, maxMs });

describe('retry delay schedule', () => {
  test('doubles from the base per failed attempt and stops at the max', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs(n, 10_000, 600_000));
    assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000]);
    assert.equal(retryDelayMs(0, 10_000, 600_000), 10_000, 'no attempt yet: the base');
    assert.equal(retryDelayMs(1000, 10_000, 600_000), 600_000, 'a huge count stays at the max');
    assert.equal(retryDelayMs(3, 400, 1600), 1600);
    assert.equal(retryDelayMs(4, 400, 1600), 1600);
  });
});

for (const dialect of DIALECTS) {
  describe(`send queue against a peer that refuses objects on ${dialect}`, () => {
    const ctx = withServer(dialect, QUEUE_ENV);
    const dr = (method: string, path: string, body?: unknown) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: ctx.admin, body });
    type Task = {
      task_id: string;
      status: string;
      sop_instance_uid: string;
      error: string;
      attempts: number;
      next_attempt_time: string | null;
    };
    const task = async (uid: string) => ((await dr('GET', 'scp/store')).body.data as Task[]).find((t) => t.sop_instance_uid === uid)!;
    /** send_status as the study detail on the DR face shows it. */
    const sendStatusOf = async (studyId: string, uid: string) => {
      const detail = (await dr('GET', `study/${studyId}`)).body.data as {
        series: { images: { sop_instance_uid: string; send_status: string }[] }[];
      };
      return detail.series.flatMap((s) => s.images).find((i) => i.sop_instance_uid === uid)!.send_status;
    };
    const addNode = async (port: number) => {
      const name = `refuser${randomUUID().slice(0, 6)}`;
      const res = await dr('POST', 'manage/pacs', {
        name,
        type: 'PACS',
        address: '127.0.0.1',
        port,
        aet: 'REFUSER',
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
      });
      assert.equal(res.status, 200, res.text);
      return name;
    };
    const storedStudy = async (n: number) => {
      const views = Array.from({ length: n }, () => ({ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: '' }));
      const study = (await dr('POST', 'study', sampleStudy({ views }))).body.data;
      const uids = (study.series as { images: { sop_instance_uid: string }[] }[]).flatMap((s) => s.images.map((i) => i.sop_instance_uid));
      for (const uid of uids) await storeDx(ctx.t, uid);
      return { studyId: study.study_id as string, uids };
    };

    let peer: Awaited<ReturnType<typeof refusingPeer>>;
    let refuseWith = new Map<string, { status: number; comment?: string }>();
    before(async () => {
      peer = await refusingPeer((uid) => refuseWith.get(uid) ?? { status: 0 });
    });
    after(() => peer.close());

    test('0xC000 ends the task FAILED at once, send_status Failed; the accepted image of the same study is Sent', async () => {
      const pacs = await addNode(peer.port);
      const {
        studyId,
        uids: [refused, accepted],
      } = await storedStudy(2);
      refuseWith = new Map([[refused, { status: 0xc000, comment: 'cannot understand this object' }]]);
      const res = await dr('POST', 'scp/study_store', { instance_uid: studyId, pacs_name: pacs });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.ok, false, 'a refused object is not a successful send');
      const failed = await task(refused);
      assert.equal(failed.status, 'FAILED');
      assert.match(failed.error, /cannot understand this object/);
      assert.equal(await sendStatusOf(studyId, refused), 'Failed');
      assert.equal((await task(accepted)).status, 'COMPLETED');
      assert.equal(await sendStatusOf(studyId, accepted), 'Sent');
      await new Promise((r) => setTimeout(r, RETRY.base * 2));
      assert.equal(peer.received.filter((r) => r.uid === refused).length, 1, 'a permanent refusal is not retried');
      assert.equal((await task(refused)).status, 'FAILED');
    });

    test('0xA700 is retried on a doubling, capped schedule, never counted as sent, FAILED after the last attempt', async () => {
      const pacs = await addNode(peer.port);
      const {
        studyId,
        uids: [uid],
      } = await storedStudy(1);
      refuseWith = new Map([[uid, { status: 0xa700, comment: 'out of resources' }]]);
      const seen = new Map<number, number>();
      const db = ctx.t.server.db.kysely;
      let polling = true;
      // Each retry's wait as the worker wrote it: next attempt time minus the time of the update.
      const poller = (async () => {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the test clears it while this loop awaits
        while (polling) {
          const rows = await db
            .selectFrom('jobs')
            .select(['payload', 'state', 'attempts', 'run_at', 'updated_at'])
            .where('queue', '=', 'dicom.store')
            .execute();
          const row = rows.find((r) => (JSON.parse(r.payload) as { sopInstanceUid: string }).sopInstanceUid === uid);
          // A queued send task that has failed before: QUEUING again, with its attempts counted.
          if (row?.state === 'queued' && row.attempts > 0 && !seen.has(row.attempts))
            seen.set(row.attempts, Date.parse(row.run_at) - Date.parse(row.updated_at));
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      try {
        const res = await dr('POST', 'scp/store', { sop_instance_uid: uid, pacs_name: pacs });
        assert.equal(res.body.data.ok, false);
        assert.match(res.body.data.output, /will retry/);
        const first = await task(uid);
        // The spec names a queued task QUEUING, retry or not (SENDING if its retry already began).
        assert.ok(['QUEUING', 'SENDING'].includes(first.status), JSON.stringify(first));
        assert.ok(first.attempts >= 1, JSON.stringify(first));
        // Between attempts the image is still being sent: neither Sent nor (yet) Failed.
        assert.equal(await sendStatusOf(studyId, uid), 'Sending');
        const done = await until(
          'the last attempt',
          async () => {
            const t = await task(uid);
            return t.status === 'FAILED' || t.status === 'COMPLETED' ? t : undefined;
          },
          20_000,
        );
        assert.equal(done.status, 'FAILED');
        assert.equal(done.attempts, RETRY.attempts);
        assert.match(done.error, /gave up after 5 attempts/);
      } finally {
        polling = false;
        await poller;
      }
      assert.equal(await sendStatusOf(studyId, uid), 'Failed');
      assert.equal(peer.received.filter((r) => r.uid === uid).length, RETRY.attempts);
      const waits = [1, 2, 3, 4].map((n) => seen.get(n));
      const expected = [400, 800, 1600, 1600];
      waits.forEach((w, i) => {
        assert.ok(w !== undefined, `the wait after attempt ${i + 1} was seen (${JSON.stringify([...seen])})`);
        assert.ok(Math.abs(w - expected[i]) <= 20, `wait after attempt ${i + 1}: ${w} ms, expected ${expected[i]} ms`);
      });
      // The peer saw the attempts no sooner than the schedule allows.
      const times = peer.received.filter((r) => r.uid === uid).map((r) => r.at);
      for (let i = 1; i < times.length; i += 1)
        assert.ok(times[i] - times[i - 1] >= expected[i - 1] - 20, `gap ${i}: ${times[i] - times[i - 1]} ms`);
    });
  });
}
