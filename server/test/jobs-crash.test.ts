import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/index.js';
import { generateUid } from '../src/util/uid.js';
import { dxFor } from './dicom-helpers.js';
import { startSilentServer, startStorescp } from '../test-support/dicom-peers.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, freePort, isolatedEnv, login, startProcess, until } from './helpers.js';

/** The server restarts underneath: a failed request is one more poll, not a failure. */
const patiently = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  until(what, () => probe().catch(() => undefined), timeoutMs);

const IMAGES = 24;

for (const dialect of DIALECTS) {
  describe(`kill -9 with jobs of every kind running on ${dialect}`, () => {
    test('after the restart each send reaches the peer once and each image has one thumbnail', { timeout: 240_000 }, async () => {
      const dicomPort = await freePort();
      // A lease far longer than the test: jobs finish only if the restart takes them back itself.
      const env = isolatedEnv(dialect, {
        DICOM_PORT: String(dicomPort),
        STORE_LEASE_MS: '600000',
        STORE_POLL_MS: '100',
        DICOM_TIMEOUT_MS: '30000',
      });
      const dataDir = env.ROENTGEN_DATA_DIR;
      const patientId = `PAT-${randomUUID().slice(0, 8)}`;
      const study = { instanceUid: generateUid(), id: 'JOBS1', accessionNumber: 'ACC-JOBS', referringPhysician: '', date: new Date() };
      const uids = Array.from({ length: IMAGES }, () => generateUid());
      const files = uids.map((uid, i) => {
        const file = path.join(dataDir, `send-${i}.dcm`);
        // Large enough that thumbnails take a while to render, so one is caught running.
        fs.writeFileSync(
          file,
          dxFor(
            uid,
            { study, patient: { id: patientId, name: 'Jobs^Crash', birthDate: '19700101', sex: 'F', age: '055Y' } },
            { rows: 1024, columns: 1024 },
          ),
        );
        return file;
      });
      const silent = await startSilentServer();
      let peer: Awaited<ReturnType<typeof startStorescp>> | undefined;
      let server: Awaited<ReturnType<typeof startProcess>> | undefined;
      let db: Db | undefined;
      try {
        server = await startProcess(env);
        db = await openDatabase({ dataDir, databaseUrl: env.DATABASE_URL, databaseSchema: env.DATABASE_SCHEMA });
        const jobs = db.kysely;
        let token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
        const dr = (verb: string, p: string, body?: unknown) => call(server!.url, verb, `/dr/api/v1/auth/${p}`, { token, body });
        // The sender must be known to our SCP (issue 15: unknown calling AEs are rejected).
        const allowed = await call(server.url, 'PUT', '/api/v1/system/configs/dicom.scp_allowed_aets', {
          token,
          body: { config_value: 'MODALITY' },
        });
        assert.equal(allowed.status, 200, allowed.text);
        await new Promise<void>((resolve, reject) => {
          execFile(
            'storescu',
            ['-aet', 'MODALITY', '-aec', 'ROENTGEN', '127.0.0.1', String(dicomPort), ...files],
            { env: { ...process.env, TCP_NODELAY: '1' } },
            (error, stdout, stderr) => (error ? reject(new Error(`${stdout}${stderr}`)) : resolve()),
          );
        });
        const studyId = await patiently('the study indexed', async () => {
          const list = (await dr('GET', `study?id=${patientId}`)).body.data?.studies as { study_id: string }[] | undefined;
          if (list?.length !== 1) return undefined;
          const images = (await dr('GET', `study/${list[0].study_id}`)).body.data.series.flatMap((s: { images: unknown[] }) => s.images);
          return images.length === IMAGES ? list[0].study_id : undefined;
        });
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
        // The peer accepts TCP and never answers: the send jobs sit running under their lease.
        void dr('POST', 'scp/study_store', { instance_uid: studyId, pacs_name: name }).catch(() => undefined);
        const running = async (kind: string) =>
          (
            await jobs
              .selectFrom('jobs')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('queue', '=', kind)
              .where('state', '=', 'running')
              .executeTakeFirstOrThrow()
          ).n;
        await until(
          'jobs of both kinds running',
          async () => ((await running('dicom.store')) === IMAGES && (await running('image.thumbnail')) > 0 ? true : undefined),
          60_000,
        );
        await server.kill();
        server = undefined;
        const thumbnailsBefore = await jobs.selectFrom('images').select('id').where('thumbnail_file', '<>', '').execute();
        assert.ok(thumbnailsBefore.length < IMAGES, 'some thumbnails were still to make at the kill');

        // The PACS comes up where the silent one was, and the console restarts.
        await silent.stop();
        peer = await startStorescp({ port: silent.port });
        server = await startProcess(env);
        token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
        try {
          await patiently('every send COMPLETED', async () => {
            const list = (await dr('GET', 'scp/store')).body.data as { status: string }[];
            return list.length === IMAGES && list.every((t) => t.status === 'COMPLETED') ? true : undefined;
          });
          for (const uid of uids) assert.equal(peer.files().filter((f) => f.endsWith(uid)).length, 1, `${uid} delivered once`);
          await patiently('every thumbnail made', async () => {
            const left = await jobs.selectFrom('images').select('id').where('thumbnail_file', '=', '').execute();
            return left.length === 0 ? true : undefined;
          });
          const thumbnails = await jobs
            .selectFrom('stored_files')
            .select(['image_pk', (eb) => eb.fn.countAll<number>().as('n')])
            .where('kind', '=', 'thumbnail')
            .groupBy('image_pk')
            .execute();
          assert.equal(thumbnails.length, IMAGES, 'one thumbnail registration per image');
          assert.ok(thumbnails.every((t) => t.n === 1));
          const webp = (fs.readdirSync(path.join(dataDir, 'blobs'), { recursive: true }) as string[]).filter((f) => f.endsWith('.webp'));
          assert.equal(webp.length, IMAGES, `one thumbnail file per image: ${webp.join(', ')}`);
          const open = await jobs
            .selectFrom('jobs')
            .select(['queue', 'state'])
            .where('state', 'in', ['queued', 'running', 'failed'])
            .execute();
          assert.deepEqual(open, [], 'no job left waiting, running or failed');
          const images = (await dr('GET', `study/${studyId}`)).body.data.series.flatMap(
            (s: { images: { send_status: string }[] }) => s.images,
          );
          assert.ok(images.every((i: { send_status: string }) => i.send_status === 'Sent'));
        } catch (error) {
          throw new Error(`${(error as Error).message}\n--- restarted server output ---\n${server.output().slice(-3000)}`, {
            cause: error,
          });
        }
      } finally {
        await server?.kill();
        await db?.close();
        await silent.stop().catch(() => undefined);
        await peer?.stop();
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
