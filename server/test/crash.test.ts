import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readDicom } from '../src/dicom/reader.js';
import { ADMIN_PASSWORD, DIALECTS, call, dropSchema, isolatedEnv, login, sampleStudy, startProcess } from './helpers.js';

/** Every .dcm/.webp in the blob store, with the bytes (temporary .part files live elsewhere). */
function storedFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => /\.(dcm|webp)$/.test(f) && !f.startsWith('.tmp'))
    .map((f) => path.join(root, f));
}

for (const dialect of DIALECTS) {
  describe(`kill -9 during an exposure on ${dialect}`, () => {
    test(
      'after a restart no task is stuck, no half-written file is visible, and the view can be exposed again',
      { timeout: 120_000 },
      async () => {
        const env = isolatedEnv(dialect, { DETECTOR_ROWS: '2048', DETECTOR_COLUMNS: '2048' });
        try {
          let server = await startProcess(env);
          let token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          const dr = (base: string, verb: string, p: string, body?: unknown) => call(base, verb, `/dr/api/v1/auth/${p}`, { token, body });
          const study = (await dr(server.url, 'POST', 'study', sampleStudy())).body.data;
          const uid: string = study.series[0].images[0].sop_instance_uid;
          assert.equal((await dr(server.url, 'POST', 'task/inspection/start', { instance_uid: uid })).status, 200);
          assert.equal((await dr(server.url, 'POST', 'task/inspection/trigger', {})).status, 200);
          await new Promise((r) => setTimeout(r, 150)); // inside the pipeline (2048² takes about a second)
          await server.kill();

          server = await startProcess(env);
          token = (await login(server.url, 'admin', ADMIN_PASSWORD)).token;
          try {
            const status = (await dr(server.url, 'GET', 'task/inspection/status')).body.data;
            assert.equal(status.insp_status, 'TASK_Idle', 'no task survives as running');
            const image = (await dr(server.url, 'GET', `study/${study.study_id}`)).body.data.series[0].images[0];
            // Either the exposure never finished (nothing recorded) or it finished completely.
            for (const file of storedFiles(env.ROENTGEN_DATA_DIR)) {
              if (file.endsWith('.dcm')) assert.doesNotThrow(() => readDicom(fs.readFileSync(file)), `${file} is whole`);
            }
            if (image.expose_status === 'Unexposed') {
              assert.equal(image.image_file, '');
              assert.equal((await dr(server.url, 'POST', 'task/inspection/start', { instance_uid: uid })).status, 200);
              assert.equal((await dr(server.url, 'POST', 'task/inspection/trigger', {})).status, 200);
              const deadline = Date.now() + 30_000;
              let again = image;
              while (again.expose_status !== 'Exposed' && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 200));
                again = (await dr(server.url, 'GET', `study/${study.study_id}`)).body.data.series[0].images[0];
              }
              assert.equal(again.expose_status, 'Exposed', 'the same view exposes after the restart');
            } else {
              assert.equal(image.image_file, `${uid}.dcm`);
            }
            const dcm = await fetch(`${server.url}/dr/api/v1/auth/f/dcm/${uid}.dcm`, { headers: { authorization: `Bearer ${token}` } });
            assert.equal(dcm.status, 200);
          } finally {
            await server.stop();
          }
        } finally {
          await dropSchema(env.DATABASE_SCHEMA);
          fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
        }
      },
    );
  });
}
