import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { readDicom } from '../src/dicom/reader.js';
import { generateUid } from '../src/util/uid.js';
import { IngestJournal } from '../src/storage/journal/ingest-journal.js';
import { dxFor } from './dicom-helpers.js';
import { startSilentServer, startStorescp } from '../test-support/dicom-peers.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, freePort, isolatedEnv, login, sampleStudy, startProcess, until } from './helpers.js';

/** The server restarts underneath: a failed request is one more poll, not a failure. */
const patiently = <T>(what: string, probe: () => Promise<T | undefined>) => until(what, () => probe().catch(() => undefined), 30_000);

for (const dialect of DIALECTS) {
  describe(`kill -9 with the send queue busy on ${dialect}`, () => {
    test(
      'tasks caught SENDING are taken again at the restart, not when their lease runs out, and all complete',
      { timeout: 120_000 },
      async () => {
        // A lease far longer than the test: the tasks complete only if the restart takes them back itself.
        const env = isolatedEnv(dialect, {
          DETECTOR_ROWS: '256',
          DETECTOR_COLUMNS: '256',
          STORE_LEASE_MS: '600000',
          STORE_POLL_MS: '100',
          STORE_RETRY_BASE_MS: '200',
          DICOM_TIMEOUT_MS: '20000',
        });
        const silent = await startSilentServer();
        let peer: Awaited<ReturnType<typeof startStorescp>> | undefined;
        let server: Awaited<ReturnType<typeof startProcess>> | undefined;
        try {
          server = await startProcess(env);
          let token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          const dr = (verb: string, p: string, body?: unknown) => call(server!.url, verb, `/dr/api/v1/auth/${p}`, { token, body });
          const views = [1, 2, 3].map(() => ({ view_id: 'View_DX_T_A_SK_AP_00', procedure_id: '' }));
          const study = (await dr('POST', 'study', sampleStudy({ views }))).body.data;
          const uids: string[] = study.series.flatMap((s: { images: { sop_instance_uid: string }[] }) =>
            s.images.map((i) => i.sop_instance_uid),
          );
          for (const uid of uids) {
            assert.equal((await dr('POST', 'task/inspection/start', { instance_uid: uid })).status, 200);
            assert.equal((await dr('POST', 'task/inspection/trigger', {})).status, 200);
            await patiently(`exposure of ${uid}`, async () => {
              const images = (await dr('GET', `study/${study.study_id}`)).body.data.series.flatMap(
                (s: { images: { sop_instance_uid: string; storage_status: string }[] }) => s.images,
              );
              if (
                !images.find(
                  (i: { sop_instance_uid: string; storage_status: string }) => i.sop_instance_uid === uid && i.storage_status === 'Saved',
                )
              )
                return undefined;
              // The image row is saved before the task ends; the next start is refused until it has.
              const { insp_status: state } = (await dr('GET', 'task/inspection/status')).body.data as { insp_status: string };
              return state === 'TASK_Exposing' || state === 'TASK_Processing' ? undefined : true;
            });
          }
          const name = `pacs${randomUUID().slice(0, 6)}`;
          assert.equal(
            (
              await dr('POST', 'manage/pacs', {
                name,
                type: 'PACS',
                address: '127.0.0.1',
                port: silent.port,
                aet: 'STORESCP',
                aec: 'ROENTGEN',
                is_enabled: true,
                is_default: false,
              })
            ).status,
            200,
          );
          // The peer accepts TCP and never answers: the tasks sit in SENDING under a lease.
          void dr('POST', 'scp/study_store', { instance_uid: study.study_id, pacs_name: name }).catch(() => undefined);
          await patiently('tasks in SENDING', async () => {
            const tasks = (await dr('GET', 'scp/store')).body.data as { status: string }[];
            return tasks.length === 3 && tasks.every((t) => t.status === 'SENDING') ? true : undefined;
          });
          await server.kill();
          server = undefined;

          // The PACS comes up where the silent one was, and the console restarts.
          await silent.stop();
          peer = await startStorescp({ port: silent.port });
          server = await startProcess(env);
          token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          try {
            const tasks = await patiently('every task COMPLETED', async () => {
              const list = (await dr('GET', 'scp/store')).body.data as { status: string; sop_instance_uid: string }[];
              return list.length === 3 && list.every((t) => t.status === 'COMPLETED') ? list : undefined;
            });
            assert.deepEqual(tasks.map((t) => t.sop_instance_uid).sort(), [...uids].sort(), 'one task per image, none duplicated');
            for (const uid of uids) assert.equal(peer.files().filter((f) => f.endsWith(uid)).length, 1, `${uid} at the peer`);
            const images = (await dr('GET', `study/${study.study_id}`)).body.data.series.flatMap(
              (s: { images: { send_status: string }[] }) => s.images,
            );
            assert.deepEqual(
              images.map((i: { send_status: string }) => i.send_status),
              ['Sent', 'Sent', 'Sent'],
            );
          } catch (error) {
            throw new Error(`${(error as Error).message}\n--- restarted server output ---\n${server.output().slice(-3000)}`, {
              cause: error,
            });
          }
        } finally {
          await server?.kill();
          await silent.stop().catch(() => undefined);
          await peer?.stop();
          await dropSchema(env.DATABASE_SCHEMA);
          fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
        }
      },
    );
  });
}

for (const dialect of DIALECTS) {
  describe(`kill -9 with our SCP receiving on ${dialect}`, () => {
    test(
      'every acknowledged object is in the archive after the restart; what a crash cut short is set aside',
      { timeout: 120_000 },
      async () => {
        const dicomPort = await freePort();
        const env = isolatedEnv(dialect, { DICOM_PORT: String(dicomPort) });
        const dataDir = env.ROENTGEN_DATA_DIR;
        const study = { instanceUid: generateUid(), id: 'CRASH1', accessionNumber: 'ACC-CRASH', referringPhysician: '', date: new Date() };
        const patient = {
          id: `PAT-${randomUUID().slice(0, 8)}`,
          name: 'Crash^Test',
          birthDate: '19700101',
          sex: 'F' as const,
          age: '055Y',
        };
        const uids = Array.from({ length: 6 }, () => generateUid());
        const paths = uids.map((uid, i) => {
          const file = path.join(dataDir, `send-${i}.dcm`);
          fs.writeFileSync(file, dxFor(uid, { study, patient }));
          return file;
        });
        let server: Awaited<ReturnType<typeof startProcess>> | undefined;
        try {
          server = await startProcess(env);
          // The sender must be known to our SCP (issue 15: unknown calling AEs are rejected).
          const admin = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          const allowed = await call(server.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
            token: admin,
            body: { config_value: 'MODALITY' },
          });
          assert.equal(allowed.status, 200, allowed.text);
          const sent = await new Promise<string>((resolve, reject) => {
            execFile(
              'storescu',
              ['-aet', 'MODALITY', '-aec', 'ROENTGEN', '127.0.0.1', String(dicomPort), ...paths],
              { env: { ...process.env, TCP_NODELAY: '1' } },
              (error, stdout, stderr) => (error ? reject(new Error(`${stdout}${stderr}`)) : resolve(`${stdout}${stderr}`)),
            );
          });
          assert.doesNotMatch(sent, /Failed|Error/i);
          // Killed right after the last acknowledgement: the indexer may not have caught up.
          await server.kill();
          server = undefined;

          // What else a crash can leave in the journal: an object acknowledged but not indexed, one
          // cut short mid-write (never acknowledged), a file created ahead and never written.
          const journal = path.join(dataDir, 'ingest-journal');
          assert.ok(
            fs.readdirSync(path.join(journal, 'segments')).some((n) => /^\d{12}\.seg$/.test(n)),
            'small objects went to a segment',
          );
          const unindexed = generateUid();
          fs.writeFileSync(path.join(journal, '00000000000001-00000001-aaaaaaaa.dcm'), dxFor(unindexed, { study, patient }));
          const whole = dxFor(generateUid(), { study, patient });
          fs.writeFileSync(path.join(journal, '00000000000001-00000002-bbbbbbbb.dcm'), whole.subarray(0, whole.length / 2));
          fs.writeFileSync(path.join(journal, '00000000000001-00000003-cccccccc.dcm'), '');

          server = await startProcess(env);
          const token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          const dr = (verb: string, p: string) => call(server!.url, verb, `/dr/api/v1/auth/${p}`, { token });
          type Image = { sop_instance_uid: string; storage_status: string; thumbnail_file: string };
          const images = await patiently('all seven images with thumbnails', async () => {
            const list = (await dr('GET', `study?id=${patient.id}`)).body.data?.studies as { study_id: string }[] | undefined;
            if (list?.length !== 1) return undefined;
            const detail = (await dr('GET', `study/${list[0].study_id}`)).body.data;
            const all = detail.series.flatMap((x: { images: Image[] }) => x.images) as Image[];
            return all.length === 7 && all.every((i) => i.storage_status === 'Saved' && i.thumbnail_file) ? all : undefined;
          });
          assert.deepEqual(images.map((i) => i.sop_instance_uid).sort(), [...uids, unindexed].sort());
          const download = await fetch(`${server.url}/api/v1/instances/${uids[5]}/download`, {
            headers: { authorization: `Bearer ${token}` },
          });
          assert.equal(download.status, 200);
          const [got, sentFile] = [readDicom(Buffer.from(await download.arrayBuffer())), readDicom(fs.readFileSync(paths[5]))];
          const pixels = (p: typeof got) =>
            Buffer.from(p.dataSet.byteArray.subarray(p.pixelData!.dataOffset, p.pixelData!.dataOffset + p.pixelData!.length));
          assert.equal(got.meta.sopInstanceUid, uids[5]);
          assert.ok(pixels(got).equals(pixels(sentFile)), 'the pixels as sent');
          assert.deepEqual(fs.readdirSync(path.join(journal, 'failed')), ['00000000000001-00000002-bbbbbbbb.dcm']);
          assert.match(server.output(), /cannot be indexed/);
          // Stopped, the journal holds nothing more to index: no object file, no record past the checkpoint.
          assert.equal(await server.stop(), 0);
          server = undefined;
          assert.deepEqual(
            fs.readdirSync(journal).filter((n) => n.endsWith('.dcm')),
            [],
            'no object file left',
          );
          const reopened = new IngestJournal(journal);
          try {
            assert.deepEqual(await reopened.start(), [], 'no record left to index');
          } finally {
            await reopened.close();
          }
        } finally {
          await server?.kill();
          await dropSchema(env.DATABASE_SCHEMA);
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      },
    );
  });
}
