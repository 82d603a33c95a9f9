import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { writePart10 } from '../src/dicom/part10.js';
import { readDicom } from '../src/dicom/reader.js';
import { storeFiles } from '../src/dimse/store-scu.js';
import { generateUid } from '../src/util/uid.js';
import { dxFor, storeDx } from './dicom-helpers.js';
import { startOrthanc, startSilentServer, startStorescp, type Storescp } from '../test-support/dicom-peers.js';
import { DIALECTS, call, createUser, freePort, isDrError, sampleStudy, until, withServer } from './helpers.js';

const QUEUE_ENV = {
  STORE_RETRY_BASE_MS: '200',
  STORE_RETRY_MAX_MS: '800',
  STORE_POLL_MS: '100',
  DICOM_TIMEOUT_MS: '1500',
  STORE_LEASE_MS: '3000',
};

/** What a peer received is our object: the same pixel data byte for byte and the same identifying tags. */
export function assertSameObject(received: Buffer, sent: Buffer): void {
  const [a, b] = [readDicom(received), readDicom(sent)];
  const pixels = (p: ReturnType<typeof readDicom>) =>
    p.dataSet.byteArray.subarray(p.pixelData!.dataOffset, p.pixelData!.dataOffset + p.pixelData!.length);
  assert.ok(Buffer.from(pixels(a)).equals(Buffer.from(pixels(b))), 'pixel data identical');
  for (const tag of [
    'x00080016',
    'x00080018',
    'x0020000d',
    'x0020000e',
    'x00100020',
    'x00100010',
    'x00080060',
    'x00281050',
    'x00281051',
    'x00180015',
  ]) {
    assert.equal(a.dataSet.string(tag), b.dataSet.string(tag), tag);
  }
  assert.deepEqual(
    [a.meta.rows, a.meta.columns, a.meta.bitsStored, a.meta.photometric],
    [b.meta.rows, b.meta.columns, b.meta.bitsStored, b.meta.photometric],
  );
}

/** A DCMTK tool, asynchronously: our own SCP answers on this process's event loop. */
function dcmtk(tool: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(tool, args, { env: { ...process.env, TCP_NODELAY: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`DICOM networking on ${dialect}`, () => {
    const ctx = withServer(dialect, QUEUE_ENV);
    let scp: Storescp;
    /** Calling AE titles our SCP admits besides the PACS nodes (issue 15: unknown ones are rejected). */
    const setAllowed = (value: string) =>
      call(ctx.t.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', { token: ctx.admin, body: { config_value: value } });
    const SENDERS = 'MODALITY, ECHOSCU';
    before(async () => {
      scp = await startStorescp();
      assert.equal((await setAllowed(SENDERS)).status, 200);
    });
    after(() => scp.stop());
    const dr = (method: string, path: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/auth/${path}`, { token: token ?? ctx.admin, body });

    async function addNode(port: number, over: Record<string, unknown> = {}): Promise<string> {
      const name = `pacs${randomUUID().slice(0, 6)}`;
      const res = await dr('POST', 'manage/pacs', {
        name,
        type: 'PACS',
        address: '127.0.0.1',
        port,
        aet: 'STORESCP',
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
        ...over,
      });
      assert.equal(res.status, 200, res.text);
      return name;
    }

    /** A registered study with `n` images stored as DX objects. */
    async function storedStudy(n = 1): Promise<{ studyId: string; uids: string[] }> {
      const views = Array.from({ length: n }, () => ({ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: '' }));
      const study = (await dr('POST', 'study', sampleStudy({ views }))).body.data;
      const uids = (study.series as { images: { sop_instance_uid: string }[] }[]).flatMap((s) => s.images.map((i) => i.sop_instance_uid));
      for (const uid of uids) await storeDx(ctx.t, uid);
      return { studyId: study.study_id, uids };
    }

    const tasks = async () =>
      (await dr('GET', 'scp/store')).body.data as {
        task_id: string;
        status: string;
        sop_instance_uid: string;
        error: string;
        attempts: number;
      }[];
    const sendStatus = async (uid: string) =>
      (
        await ctx.t.server.db.kysely
          .selectFrom('images')
          .select('send_status')
          .where('sop_instance_uid', '=', uid)
          .executeTakeFirstOrThrow()
      ).send_status;

    test('C-ECHO: success with echoscu-style lines; refused port, rejected association and silence are told apart', async () => {
      const okRes = await dr('POST', 'scp/echo', {
        verbose: true,
        debug: false,
        address: '127.0.0.1',
        port: scp.port,
        aet: scp.aet,
        aec: 'ROENTGEN',
      });
      assert.equal(okRes.status, 200, okRes.text);
      assert.equal(okRes.body.data['@type'], 'type.googleapis.com/dr.task.EchoReply');
      assert.equal(okRes.body.data.ok, true);
      assert.match(
        okRes.body.data.output,
        /^I: Requesting Association\nI: Association Accepted \(Max Send PDV: \d+\)\nI: Sending Echo Request \(MsgID 1\)\nI: Received Echo Response \(Success\)\nI: Releasing Association\n$/,
      );
      const debug = await dr('POST', 'scp/echo', { debug: true, address: '127.0.0.1', port: scp.port, aet: scp.aet, aec: 'ROENTGEN' });
      assert.match(debug.body.data.output, /D: .*accepted with 1\.2\.840\.10008\.1\.2/);
      const quiet = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: scp.port, aet: scp.aet, aec: 'ROENTGEN' });
      assert.equal(quiet.body.data.output, '');

      const closed = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: await freePort(), aet: 'X', aec: 'ROENTGEN' });
      assert.equal(closed.status, 502);
      assert.ok(isDrError(closed.body, '0x0A0003'), closed.text);
      assert.match(closed.body.description, /refused/);

      const refusing = await startStorescp({ args: ['--refuse'] });
      try {
        const rejected = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: refusing.port, aet: refusing.aet, aec: 'ROENTGEN' });
        assert.equal(rejected.status, 502);
        assert.ok(isDrError(rejected.body, '0x0A0004'), rejected.text);
      } finally {
        await refusing.stop();
      }
      const silent = await startSilentServer();
      try {
        const started = Date.now();
        const timedOut = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: silent.port, aet: 'X', aec: 'ROENTGEN' });
        assert.equal(timedOut.status, 504);
        assert.ok(isDrError(timedOut.body, '0x0A0005'), timedOut.text);
        assert.ok(Date.now() - started < 5_000);
      } finally {
        await silent.stop();
      }
      const bad = await dr('POST', 'scp/echo', { address: '0.0.0.0', port: 70000, aet: 'A'.repeat(17), aec: '' });
      assert.equal(bad.status, 400);
      assert.deepEqual(
        new Set(bad.body.data?.fields?.map?.((f: { field: string }) => f.field) ?? ['address', 'port', 'aet', 'aec']),
        new Set(['address', 'port', 'aet', 'aec']),
      );
    });

    test('C-STORE of one image: queued, sent, the peer holds the same dataset byte for byte, send_status Sent', async () => {
      const pacs = await addNode(scp.port);
      const {
        uids: [uid],
      } = await storedStudy();
      const res = await dr('POST', 'scp/store', { sop_instance_uid: uid, pacs_name: pacs });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data['@type'], 'type.googleapis.com/dr.task.StoreReply');
      assert.equal(res.body.data.ok, true, res.body.data.output);
      assert.match(res.body.data.output, /I: Received Store Response \(Success\)/);
      const received = scp.files().find((f) => f.endsWith(uid));
      assert.ok(received, `storescp wrote ${scp.files().join(', ')}`);
      const stored = await ctx.t.server.services.imageFiles.blobs.read(`dicom/${uid}.dcm`);
      assertSameObject(fs.readFileSync(received), stored);
      assert.equal(await sendStatus(uid), 'Sent');
      const task = (await tasks()).find((t) => t.sop_instance_uid === uid)!;
      assert.equal(task.status, 'COMPLETED');
    });

    test('a study goes over one association; unknown node, image or study are refused clearly', async () => {
      const pacs = await addNode(scp.port);
      const { studyId, uids } = await storedStudy(3);
      const res = await dr('POST', 'scp/study_store', { instance_uid: studyId, pacs_name: pacs });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.data.ok, true, res.body.data.output);
      assert.equal((res.body.data.output.match(/Requesting Association/g) ?? []).length, 1);
      assert.equal((res.body.data.output.match(/Received Store Response \(Success\)/g) ?? []).length, 3);
      for (const uid of uids)
        assert.ok(
          scp.files().some((f) => f.endsWith(uid)),
          uid,
        );

      assert.ok(isDrError((await dr('POST', 'scp/store', { sop_instance_uid: uids[0], pacs_name: 'nosuchnode' })).body, '0x0A0001'));
      assert.equal((await dr('POST', 'scp/store', { sop_instance_uid: '1.2.3.999', pacs_name: pacs })).status, 404);
      assert.equal((await dr('POST', 'scp/study_store', { instance_uid: 'nosuchstudy', pacs_name: pacs })).status, 404);
      assert.equal((await dr('POST', 'scp/store', { sop_instance_uid: 'not a uid', pacs_name: pacs })).status, 400);
      const reader = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      assert.equal((await dr('POST', 'scp/store', { sop_instance_uid: uids[0], pacs_name: pacs }, reader.token)).status, 403);
    });

    test('peer down: the task retries with backoff and completes once the peer is up', async () => {
      const port = await freePort();
      const pacs = await addNode(port);
      const {
        uids: [uid],
      } = await storedStudy();
      const res = await dr('POST', 'scp/store', { sop_instance_uid: uid, pacs_name: pacs });
      assert.equal(res.body.data.ok, false);
      assert.match(res.body.data.output, /refused.*will retry/);
      // Waiting for its retry (QUEUING), or already in it (SENDING) on a slow machine.
      const queued = (await tasks()).find((t) => t.sop_instance_uid === uid)!;
      assert.ok(['QUEUING', 'SENDING'].includes(queued.status), queued.status);
      assert.ok(queued.attempts >= 1);
      const late = await startStorescp({ port });
      try {
        const done = await until('the retried task', async () =>
          (await tasks()).find((t) => t.sop_instance_uid === uid && t.status === 'COMPLETED'),
        );
        assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
        assert.ok(late.files().some((f) => f.endsWith(uid)));
        assert.equal(await sendStatus(uid), 'Sent');
      } finally {
        await late.stop();
      }
    });

    test('a refusing peer fails the task with its reason; store_reply retries it, DELETE scp/task removes it', async () => {
      const refusing = await startStorescp({ args: ['--refuse'] });
      const pacs = await addNode(refusing.port);
      const {
        uids: [uid],
      } = await storedStudy();
      const res = await dr('POST', 'scp/store', { sop_instance_uid: uid, pacs_name: pacs });
      await refusing.stop();
      assert.equal(res.body.data.ok, false);
      const task = (await tasks()).find((t) => t.sop_instance_uid === uid)!;
      assert.equal(task.status, 'FAILED');
      assert.match(task.error, /rejected/);
      assert.equal(await sendStatus(uid), 'Failed');

      // The PACS is fixed (now a listening storescp on the node's port): retry.
      await dr('PUT', `manage/pacs/${(await dr('GET', 'manage/pacs')).body.data.scp.find((n: { name: string }) => n.name === pacs).id}`, {
        name: pacs,
        type: 'PACS',
        address: '127.0.0.1',
        port: scp.port,
        aet: 'STORESCP',
        aec: 'ROENTGEN',
        is_enabled: true,
        is_default: false,
      });
      const retried = await dr('POST', 'scp/store_reply', { instance_uid: task.task_id });
      assert.equal(retried.body.data.ok, true, retried.text);
      assert.equal((await tasks()).find((t) => t.task_id === task.task_id)!.status, 'COMPLETED');

      const removed = await call(ctx.t.url, 'DELETE', `/dr/api/v1/auth/scp/task?task_id=${task.task_id}`, { token: ctx.admin });
      assert.equal(removed.status, 200, removed.text);
      assert.equal(
        (await tasks()).some((t) => t.task_id === task.task_id),
        false,
      );
      const again = await call(ctx.t.url, 'DELETE', `/dr/api/v1/auth/scp/task?task_id=${task.task_id}`, { token: ctx.admin });
      assert.ok(isDrError(again.body, '0x0A0007'));
      assert.ok(isDrError((await dr('POST', 'scp/store_reply', { instance_uid: 'nosuchtask' })).body, '0x0A0007'));
    });

    test('auto-send: an accepted image goes to the default node when the config says so, a rejected one never', async () => {
      const pacs = await addNode(scp.port, { is_default: true });
      const {
        uids: [accepted, rejected, before],
      } = await storedStudy(3);
      await ctx.t.server.db.kysely
        .updateTable('images')
        .set({ expose_status: 'Exposed' })
        .where('sop_instance_uid', 'in', [accepted, rejected, before])
        .execute();
      const judge = (uid: string, accept: boolean) => dr('POST', 'task/inspection/judge', { instance_uid: uid, accept });
      assert.equal((await judge(before, true)).status, 200);
      assert.equal(
        (await tasks()).some((t) => t.sop_instance_uid === before),
        false,
        'auto-send is off by default',
      );
      assert.equal(
        (await call(ctx.t.url, 'PUT', '/api/v1/system/configs/pacs.auto_send', { token: ctx.admin, body: { config_value: true } })).status,
        200,
      );
      try {
        assert.equal((await judge(accepted, true)).status, 200);
        assert.equal((await judge(rejected, false)).status, 200);
        const sent = await until('the auto-sent task', async () =>
          (await tasks()).find((t) => t.sop_instance_uid === accepted && t.status === 'COMPLETED'),
        );
        assert.equal((sent as unknown as { destination: string }).destination, pacs);
        assert.equal(
          (await tasks()).some((t) => t.sop_instance_uid === rejected),
          false,
        );
      } finally {
        await call(ctx.t.url, 'PUT', '/api/v1/system/configs/pacs.auto_send', { token: ctx.admin, body: { config_value: false } });
        const id = (await dr('GET', 'manage/pacs')).body.data.scp.find((n: { name: string }) => n.name === pacs).id;
        await dr('DELETE', `manage/pacs/${id}`);
      }
    });

    test('Orthanc: C-ECHO, a called AE it does not answer to is rejected, C-STORE arrives with identical pixels and tags', async () => {
      const orthanc = await startOrthanc();
      try {
        const echoed = await dr('POST', 'scp/echo', {
          verbose: true,
          address: '127.0.0.1',
          port: orthanc.dicomPort,
          aet: orthanc.aet,
          aec: 'ROENTGEN',
        });
        assert.equal(echoed.body.data?.ok, true, echoed.text);
        const wrong = await dr('POST', 'scp/echo', { address: '127.0.0.1', port: orthanc.dicomPort, aet: 'NOTORTHANC', aec: 'ROENTGEN' });
        assert.ok(isDrError(wrong.body, '0x0A0004'), wrong.text);
        assert.match(wrong.body.description, /called AE title not recognized/);

        const pacs = await addNode(orthanc.dicomPort, { aet: orthanc.aet });
        const { studyId, uids } = await storedStudy(2);
        const res = await dr('POST', 'scp/study_store', { instance_uid: studyId, pacs_name: pacs });
        assert.equal(res.body.data.ok, true, res.body.data.output);
        for (const uid of uids) {
          const found = (await (
            await fetch(`${orthanc.url}/tools/find`, {
              method: 'POST',
              body: JSON.stringify({ Level: 'Instance', Query: { SOPInstanceUID: uid } }),
            })
          ).json()) as string[];
          assert.equal(found.length, 1, `Orthanc holds ${uid}`);
          const file = Buffer.from(await (await fetch(`${orthanc.url}/instances/${found[0]}/file`)).arrayBuffer());
          assertSameObject(file, await ctx.t.server.services.imageFiles.blobs.read(`dicom/${uid}.dcm`));
        }
      } finally {
        await orthanc.stop();
      }
    });

    test("our SCP: storescu's objects land in the archive, visible on both faces, bytes and pixels intact", async () => {
      const uids = [generateUid(), generateUid()];
      const studyUid = generateUid();
      const study = { instanceUid: studyUid, id: 'EXT1', accessionNumber: 'ACCEXT', referringPhysician: 'Ref^Doc', date: new Date() };
      const paths = uids.map((uid, i) => {
        const file = path.join(ctx.t.dataDir, `incoming-${i}.dcm`);
        fs.writeFileSync(
          file,
          dxFor(uid, { study, patient: { id: 'EXTPAT1', name: 'Extern^Pat', birthDate: '19700101', sex: 'F', age: '055Y' } }),
        );
        return file;
      });
      const sent = await dcmtk('storescu', [
        '-v',
        '-aet',
        'MODALITY',
        '-aec',
        'ROENTGEN',
        '127.0.0.1',
        String(ctx.t.server.dicomPort),
        ...paths,
      ]);
      assert.equal(sent.code, 0, sent.output);
      assert.equal((sent.output.match(/Received Store Response \(Success\)/g) ?? []).length, 2, sent.output);
      // Acknowledged once journalled; the indexer thread adds the rows right after, thumbnails when the SCP is idle.
      const row = await until('the study indexed', () =>
        ctx.t.server.db.kysely.selectFrom('studies').selectAll().where('study_instance_uid', '=', studyUid).executeTakeFirst(),
      );
      const detail = await until('thumbnails', async () => {
        const d = (await dr('GET', `study/${row.study_id}`)).body.data;
        return d.series
          .flatMap((x: { images: { thumbnail_file: string }[] }) => x.images)
          .every((i: { thumbnail_file: string }) => i.thumbnail_file)
          ? d
          : undefined;
      });
      assert.equal(detail.patient_id, 'EXTPAT1');
      assert.equal(detail.accession_number, 'ACCEXT');
      const images = detail.series.flatMap(
        (x: { images: { sop_instance_uid: string; storage_status: string; thumbnail_file: string }[] }) => x.images,
      );
      assert.deepEqual(images.map((i: { sop_instance_uid: string }) => i.sop_instance_uid).sort(), [...uids].sort());
      assert.ok(
        images.every(
          (i: { storage_status: string; thumbnail_file: string }) => i.storage_status === 'Saved' && i.thumbnail_file.endsWith('.webp'),
        ),
      );
      const download = await fetch(`${ctx.t.url}/api/v1/instances/${uids[0]}/download`, {
        headers: { authorization: `Bearer ${ctx.admin}` },
      });
      assert.equal(download.status, 200);
      assertSameObject(Buffer.from(await download.arrayBuffer()), fs.readFileSync(paths[0]));
      const preview = await fetch(`${ctx.t.url}/api/v1/instances/${uids[1]}/preview`, {
        headers: { authorization: `Bearer ${ctx.admin}` },
      });
      assert.equal(preview.status, 200);

      const echoed = await dcmtk('echoscu', ['-aec', 'ROENTGEN', '127.0.0.1', String(ctx.t.server.dicomPort)]);
      assert.equal(echoed.code, 0, echoed.output);
      const wrongCalled = await dcmtk('echoscu', ['-aec', 'SOMEONEELSE', '127.0.0.1', String(ctx.t.server.dicomPort)]);
      assert.notEqual(wrongCalled.code, 0);
      assert.match(wrongCalled.output, /Called AE Title Not Recognized/i);
    });

    test('our SCP refuses calling AEs that are neither nodes nor on the list, and objects it cannot read', async () => {
      const rogue = await dcmtk('echoscu', ['-aet', 'ROGUE', '-aec', 'ROENTGEN', '127.0.0.1', String(ctx.t.server.dicomPort)]);
      assert.notEqual(rogue.code, 0);
      assert.match(rogue.output, /Calling AE Title Not Recognized/i);
      assert.notEqual((await dcmtk('echoscu', ['-aet', 'PACS1', '-aec', 'ROENTGEN', '127.0.0.1', String(ctx.t.server.dicomPort)])).code, 0);
      assert.equal((await setAllowed(`${SENDERS}, PACS1`)).status, 200);
      try {
        assert.equal((await dcmtk('echoscu', ['-aet', 'PACS1', '-aec', 'ROENTGEN', '127.0.0.1', String(ctx.t.server.dicomPort)])).code, 0);
      } finally {
        await setAllowed(SENDERS);
      }
      // A DX without a Study Instance UID: refused with 0xC000 and nothing indexed.
      const uid = generateUid();
      const broken = writePart10({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1', SOPInstanceUID: uid, Modality: 'DX', PatientID: 'X' });
      const outcomes = await storeFiles(
        { host: '127.0.0.1', port: ctx.t.server.dicomPort, callingAet: 'MODALITY', calledAet: 'ROENTGEN' },
        [broken],
        () => undefined,
      );
      assert.equal(outcomes[0].status, 0xc000, JSON.stringify(outcomes));
      assert.equal(
        await ctx.t.server.db.kysely.selectFrom('images').select('id').where('sop_instance_uid', '=', uid).executeTakeFirst(),
        undefined,
      );
    });

    test('the queue lists by creation time window', async () => {
      const from = new Date(Date.now() - 60_000).toISOString();
      const all = await dr('GET', `scp/store?start_time=${encodeURIComponent(from)}`);
      assert.equal(all.status, 200);
      assert.ok(all.body.data.length > 0);
      const none = await dr('GET', `scp/store?end_time=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`);
      assert.deepEqual(none.body.data, []);
      assert.equal((await dr('GET', 'scp/store?start_time=yesterday')).status, 400);
    });
  });
}
