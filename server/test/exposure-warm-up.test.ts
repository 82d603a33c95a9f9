import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import mqtt from 'mqtt';
import {
  ADMIN_PASSWORD,
  DIALECTS,
  call,
  dropSchema,
  isolatedEnv,
  login,
  sampleStudy,
  startProcess,
  startServer,
  until,
} from './helpers.js';

/**
 * The exposure path is readied in the background once the server listens (issue 16): readiness
 * does not wait for it, system/health shows it, and an exposure triggered straight after listen
 * (while it runs) succeeds. Not timed: bench/exposure.ts measures the first exposure.
 */
for (const dialect of DIALECTS) {
  describe(`exposure warm-up on ${dialect}`, () => {
    test('an exposure right after listen succeeds; the warm-up then shows done in health and the log', async () => {
      const env = isolatedEnv(dialect, { EXPOSURE_WARM_UP: '1' });
      const server = await startProcess(env);
      try {
        const { url } = server;
        const admin = (await login(url, 'admin', ADMIN_PASSWORD)).token;
        const exposure = async () => (await call(url, 'GET', '/api/v1/system/health', { token: admin })).body.data.services.exposure;
        assert.ok(['running', 'done'].includes((await exposure()).warm_up), 'started once listening');

        const client = await mqtt.connectAsync(`${url.replace(/^http/, 'ws')}/mqtt`, {
          username: 'console',
          password: admin,
          reconnectPeriod: 0,
        });
        try {
          const outcomes: { sop: string; status: string; message: string }[] = [];
          client.on('message', (_topic, payload) => outcomes.push(JSON.parse(payload.toString()) as (typeof outcomes)[number]));
          await client.subscribeAsync('MODULE/TASK/IMGPROC/PROGRESS');
          const study = (await call(url, 'POST', '/dr/api/v1/auth/study', { token: admin, body: sampleStudy() })).body.data;
          const uid: string = study.series[0].images[0].sop_instance_uid;
          const task = (verb: string, body: unknown = {}) =>
            call(url, 'POST', `/dr/api/v1/auth/task/inspection/${verb}`, { token: admin, body });
          assert.equal((await task('start', { instance_uid: uid })).status, 200);
          assert.equal((await task('trigger')).status, 200);
          const outcome = await until('the exposure to finish', async () =>
            outcomes.find((e) => e.sop === uid && (e.status === 'TASK_Success' || e.status === 'TASK_Failure')),
          );
          assert.equal(outcome.status, 'TASK_Success', outcome.message);
        } finally {
          client.end(true);
        }

        const done = await until('the warm-up to end', async () => {
          const report = await exposure();
          return report.warm_up === 'running' ? undefined : report;
        });
        assert.equal(done.status, 'healthy');
        assert.equal(done.warm_up, 'done');
        assert.ok(['done', 'yielded'].includes(done.pipeline), `the pipeline ran or gave way (${done.pipeline})`);
        assert.ok(done.warm_up_ms > 0);
        assert.match(server.output(), /exposure path warmed up in \d+ ms/);
      } finally {
        assert.equal(await server.stop(), 0, 'a clean stop');
        await dropSchema(env.DATABASE_SCHEMA);
        fs.rmSync(env.ROENTGEN_DATA_DIR, { recursive: true, force: true });
      }
    });

    test('switched off (EXPOSURE_WARM_UP=0), health says so and exposures start the pipeline themselves', async () => {
      const t = await startServer(dialect, { EXPOSURE_WARM_UP: '0' });
      try {
        const admin = (await login(t.url, 'admin', ADMIN_PASSWORD)).token;
        const health = (await call(t.url, 'GET', '/api/v1/system/health', { token: admin })).body.data;
        assert.deepEqual(health.services.exposure, { status: 'healthy', warm_up: 'off' });
        assert.equal(health.status, 'healthy');
      } finally {
        await t.close();
      }
    });
  });
}
