import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import { readPart10 } from '../src/dicom/part10.js';
import { DIALECTS, call, isDrError, sampleStudy, withServer, type Dialect } from './helpers.js';

interface Progress {
  status: string;
  sop: string;
  message: string;
  dcm?: string;
  thumbnail?: string;
}

/** The embedded broker (clients over WebSocket at /mqtt) on both databases, and the machine's Mosquitto. */
const VARIANTS: { dialect: Dialect; broker: 'embedded' | 'mosquitto' }[] = [
  ...DIALECTS.map((dialect) => ({ dialect, broker: 'embedded' as const })),
  { dialect: DIALECTS.at(-1)!, broker: 'mosquitto' },
];
const MOSQUITTO = process.env.TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

for (const { dialect, broker } of VARIANTS) {
  describe(`exposure workflow on ${dialect} with the ${broker} broker`, () => {
    const ctx = withServer(dialect, broker === 'mosquitto' ? { MQTT_URL: MOSQUITTO } : {});
    const task = (verb: string, body?: unknown, method = 'POST') =>
      call(ctx.t.url, method, `/dr/api/v1/auth/task/inspection/${verb}`, { token: ctx.admin, body });
    const listen = async () => {
      const url = broker === 'mosquitto' ? MOSQUITTO : `${ctx.t.url.replace(/^http/, 'ws')}/mqtt`;
      const client = await mqtt.connectAsync(url, { username: 'console', password: ctx.admin, reconnectPeriod: 0 });
      const events: Progress[] = [];
      client.on('message', (_topic, payload) => events.push(JSON.parse(payload.toString()) as Progress));
      await client.subscribeAsync('MODULE/TASK/IMGPROC/PROGRESS');
      const until = async (status: string, timeoutMs = 20_000) => {
        const started = Date.now();
        while (!events.some((e) => e.status === status)) {
          if (Date.now() - started > timeoutMs) throw new Error(`no ${status}; got ${events.map((e) => e.status).join(', ')}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      return { client, events, until };
    };

    test('start → trigger → stages in order → TASK_Success with stored DX; double trigger refused; judge; leave', async () => {
      const study = (await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() })).body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      assert.equal((await task('trigger')).status, 409, 'nothing started yet');

      const started = await task('start', { instance_uid: uid });
      assert.equal(started.status, 200, started.text);
      const status = (await task('status', undefined, 'GET')).body.data;
      assert.deepEqual(
        [status['@type'], status.insp_status, status.all_ready],
        ['type.googleapis.com/dr.task.TaskGlobalStatus', 'TASK_Ready', true],
      );
      const gen = JSON.parse(
        (
          await call(ctx.t.url, 'POST', '/dr/api/v1/auth/device/get', {
            token: ctx.admin,
            body: { deviceUri: 'DIOS/DEVICE/Generator', reqName: '', reqParam: '' },
          })
        ).body.data,
      );
      assert.ok(Number(gen.KV.Value) >= 60 && Number(gen.KV.Value) <= 90, `the skull programme's kV is loaded (${gen.KV.Value})`);
      const detail = (await call(ctx.t.url, 'GET', `/dr/api/v1/auth/study/${study.study_id}`, { token: ctx.admin })).body.data;
      assert.equal(detail.study_status, 'InProgress');

      const { client, events, until } = await listen();
      try {
        const first = await task('trigger');
        assert.equal(first.status, 200, first.text);
        const second = await task('trigger');
        assert.equal(second.status, 409, 'a second trigger while processing is refused');
        assert.ok(isDrError(second.body, '0x090002'));
        await until('TASK_Success');
        const mine = events.filter((e) => e.sop === uid);
        assert.deepEqual(
          mine.map((e) => e.status),
          ['TASK_RecvRaw', 'TASK_RecvMask', 'TASK_RecvEnhance', 'TASK_RecvForeground', 'TASK_RecvApply', 'TASK_Success'],
        );
        const success = mine.at(-1)!;
        assert.deepEqual([success.dcm, success.thumbnail], [`${uid}.dcm`, `${uid}.webp`]);
      } finally {
        client.end(true);
      }

      const image = (await call(ctx.t.url, 'GET', `/dr/api/v1/auth/study/${study.study_id}`, { token: ctx.admin })).body.data.series[0]
        .images[0];
      assert.deepEqual([image.expose_status, image.storage_status, image.image_file], ['Exposed', 'Saved', `${uid}.dcm`]);
      assert.ok(image.img_proc_context.exposure_index.ei > 0);
      const file = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${uid}.dcm`, { headers: { authorization: `Bearer ${ctx.admin}` } });
      const bytes = Buffer.from(await file.arrayBuffer());
      const dx = readPart10(bytes);
      assert.deepEqual([dx.SOPClassUID, dx.Rows, dx.PresentationIntentType], ['1.2.840.10008.5.1.4.1.1.1.1', 512, 'FOR PRESENTATION']);
      assert.ok(Number(dx.ExposureIndex) > 0 && dx.DeviationIndex !== undefined && dx.WindowWidth !== undefined);
      const temp = path.join(os.tmpdir(), `roentgen-acq-${process.pid}.dcm`);
      fs.writeFileSync(temp, bytes);
      const report = spawnSync('dciodvfy', [temp], { encoding: 'utf8' });
      fs.rmSync(temp, { force: true });
      assert.deepEqual(
        `${report.stdout}${report.stderr}`.split('\n').filter((l) => l.startsWith('Error')),
        [],
      );
      await ctx.t.server.services.acquisition.pending; // the For Processing object is written after TASK_Success
      const processing = await call(ctx.t.url, 'GET', `/api/v1/instances/${image.img_proc_context.processing_sop}/download`, {
        token: ctx.admin,
      });
      assert.equal(processing.status, 200, 'the For Processing object is kept');

      assert.equal((await task('judge', { instance_uid: uid, accept: false })).status, 200);
      const judged = (await call(ctx.t.url, 'GET', `/dr/api/v1/auth/study/${study.study_id}`, { token: ctx.admin })).body.data.series[0]
        .images[0];
      assert.equal(judged.judged_status, 'Reject');
      const unexposed = study.series.flatMap((s: { images: { sop_instance_uid: string }[] }) => s.images)[1].sop_instance_uid;
      assert.ok(isDrError((await task('judge', { instance_uid: unexposed, accept: true })).body, '0x090004'));
      assert.ok(isDrError((await task('start', { instance_uid: uid })).body, '0x090003'), 'an exposed image is not exposed again');

      assert.equal((await task('leave', { study_id: study.study_id, study_status: 'Completed' })).status, 200);
      const done = (await call(ctx.t.url, 'GET', `/dr/api/v1/auth/study/${study.study_id}`, { token: ctx.admin })).body.data;
      assert.equal(done.study_status, 'Completed');
      assert.equal((await task('status', undefined, 'GET')).body.data.insp_status, 'TASK_Idle');
      assert.ok(isDrError((await task('trigger')).body, '0x090001'), 'after leaving, nothing is started');
    });

    test('bad requests: unknown image, wrong status value, missing fields', async () => {
      assert.equal((await task('start', { instance_uid: '1.2.3.4' })).status, 404);
      assert.equal((await task('start', {})).status, 400);
      assert.equal((await task('leave', { study_id: '1', study_status: 'Done' })).status, 400);
      assert.equal((await task('judge', { instance_uid: '1.2.3.4' })).status, 400);
    });
  });
}
