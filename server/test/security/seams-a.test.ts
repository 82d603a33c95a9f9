import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { readPart10 } from '../../src/dicom/part10.js';
import { DIALECTS, call, createUser, isDrError, login, sampleStudy, USER_PASSWORD, withServer } from '../helpers.js';

/** Catalogue codes these tests expect. */
const TASK_BUSY = '0x090002';
const TASK_OTHER_SESSION = '0x090005';
const UPLOAD_CAPACITY_BUSY = '0x0E0005';
const UPLOAD_SHARED_QUOTA_EXCEEDED = '0x0E0006';

/** A PNG of random RGB noise: it does not compress, so its stored size is about width × height × 3 (twice, with the kept picture). */
const noisePng = (width: number, height: number) => {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
};

for (const dialect of DIALECTS) {
  describe(`seams A (exposure ownership, device lock, guest budgets) on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, p: string, token: string, body?: unknown) => call(ctx.t.url, method, `/dr/api/v1/${p}`, { token, body });
    const task = (verb: string, token: string, body: unknown = {}) => dr('POST', `auth/task/inspection/${verb}`, token, body);
    const guestToken = async (): Promise<string> => (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
    const setConfig = async (key: string, value: number) => {
      const res = await call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });
      assert.equal(res.status, 200, res.text);
    };
    /** Registers a study with the token; returns its id and its first image's UID. */
    const register = async (token: string, over: Record<string, unknown> = {}) => {
      const res = await dr('POST', 'auth/study', token, sampleStudy(over));
      assert.equal(res.status, 200, res.text);
      return { studyId: res.body.data.study_id as string, uid: res.body.data.series[0].images[0].sop_instance_uid as string };
    };
    const imageOf = async (studyId: string, token: string) =>
      (await dr('GET', `auth/study/${studyId}`, token)).body.data.series[0].images[0];
    const action = (token: string, reqName: string, reqParam: string) =>
      dr('POST', 'auth/device/action', token, { deviceUri: 'DIOS/DEVICE/Generator', reqName, reqParam });

    test('seam 1: a guest cannot take over or steal a staff exposure; other sessions cannot trigger, judge or leave it', async () => {
      const tech = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const staff = await register(tech.token);
      const guest = await guestToken();
      assert.ok(guest);
      const emergency = await register(guest, { study_type: 'Emergency' });

      assert.equal((await task('start', tech.token, { instance_uid: staff.uid })).status, 200);
      const stolen = await task('start', guest, { instance_uid: emergency.uid });
      assert.equal(stolen.status, 409, `a guest's start while the tech's inspection is ready: ${stolen.text}`);
      assert.ok(isDrError(stolen.body, TASK_BUSY), stolen.text);
      // Another staff session (the admin's) is refused as well: the inspection is the tech's console's.
      const otherStaff = await task('trigger', ctx.admin);
      assert.equal(otherStaff.status, 409, otherStaff.text);
      assert.ok(isDrError(otherStaff.body, TASK_OTHER_SESSION), otherStaff.text);
      const guestTrigger = await task('trigger', guest);
      assert.ok([404, 409].includes(guestTrigger.status) && guestTrigger.body.code !== '0x000000', guestTrigger.text);

      assert.equal((await task('trigger', tech.token)).status, 200);
      await ctx.t.server.services.acquisition.pending;
      assert.equal((await imageOf(staff.studyId, tech.token)).expose_status, 'Exposed', "the exposure is in the tech's study");
      assert.notEqual((await imageOf(emergency.studyId, guest)).expose_status, 'Exposed', "nothing landed in the guest's study");
      const download = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${emergency.uid}.dcm`, {
        headers: { authorization: `Bearer ${guest}` },
      });
      await download.arrayBuffer();
      assert.equal(download.status, 404, 'the guest has no image to download');

      for (const [verb, body] of [
        ['judge', { instance_uid: staff.uid, accept: true }],
        ['leave', { study_id: staff.studyId, study_status: 'Completed' }],
      ] as const) {
        const res = await task(verb, ctx.admin, body);
        assert.equal(res.status, 409, `${verb} from another session: ${res.text}`);
        assert.ok(isDrError(res.body, TASK_OTHER_SESSION), res.text);
      }
      assert.equal((await imageOf(staff.studyId, ctx.admin)).judged_status, 'NotJudged', 'the refused judge changed nothing');
      assert.equal((await task('judge', tech.token, { instance_uid: staff.uid, accept: true })).status, 200);
      assert.equal((await task('leave', tech.token, { study_id: staff.studyId, study_status: 'Completed' })).status, 200);

      // The room is free again: the guest's own console flow works end to end.
      assert.equal((await task('start', guest, { instance_uid: emergency.uid })).status, 200);
      const status = (await dr('GET', 'auth/task/inspection/status', guest)).body.data;
      assert.equal(status.insp_status, 'TASK_Ready');
      assert.equal((await task('trigger', guest)).status, 200);
      await ctx.t.server.services.acquisition.pending;
      assert.equal((await imageOf(emergency.studyId, guest)).expose_status, 'Exposed');
      assert.equal((await task('leave', guest, { study_id: emergency.studyId, study_status: 'Completed' })).status, 200);
    });

    test('seam 1: an inspection is freed by its session ending; the same account logging in again may take it over', async () => {
      const tech = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const first = await register(tech.token);
      assert.equal((await task('start', tech.token, { instance_uid: first.uid })).status, 200);
      // The same person on a reloaded console (a new login of the same account) takes over.
      const again = await login(ctx.t.url, tech.username, USER_PASSWORD);
      const second = await register(again.token);
      assert.equal((await task('start', again.token, { instance_uid: second.uid })).status, 200);
      const old = await task('trigger', tech.token);
      assert.ok(isDrError(old.body, TASK_OTHER_SESSION), `the replaced session cannot trigger: ${old.text}`);
      // A guest may not take it, until that session logs out.
      const guest = await guestToken();
      const emergency = await register(guest, { study_type: 'Emergency' });
      assert.ok(isDrError((await task('start', guest, { instance_uid: emergency.uid })).body, TASK_BUSY));
      const logout = await call(ctx.t.url, 'POST', '/api/v1/auth/logout', { token: again.token, body: {} });
      assert.ok(logout.status === 200 || logout.status === 204, logout.text);
      const freed = await task('start', guest, { instance_uid: emergency.uid });
      assert.equal(freed.status, 200, `an ended session holds nothing: ${freed.text}`);
      assert.equal((await task('leave', guest, { study_id: emergency.studyId, study_status: 'InProgress' })).status, 200);
    });

    test("seam 2: while a tech's inspection is ready, other sessions cannot change the generator's technique", async () => {
      const tech = await createUser(ctx.t.url, ctx.admin, ['tech']);
      const staff = await register(tech.token);
      assert.equal((await task('start', tech.token, { instance_uid: staff.uid })).status, 200);
      const guest = await guestToken();
      for (const [token, name, param] of [
        [guest, 'SetParam_MA', '500'],
        [guest, 'SetParam_MS', '1000'],
        [ctx.admin, 'SetParam_MS', '1000'],
        [guest, 'IncParam_KV', ''],
      ] as const) {
        const res = await action(token, name, param);
        assert.equal(res.status, 409, `${name} ${param} from another session: ${res.text}`);
        assert.ok(isDrError(res.body, TASK_OTHER_SESSION), res.text);
      }
      // The owner still adjusts its own programme.
      assert.equal((await action(tech.token, 'SetParam_MS', '40')).status, 200);
      const gen = JSON.parse(
        (await dr('POST', 'auth/device/get', tech.token, { deviceUri: 'DIOS/DEVICE/Generator', reqName: '', reqParam: '' })).body.data,
      );
      assert.equal((await task('trigger', tech.token)).status, 200);
      await ctx.t.server.services.acquisition.pending;
      const file = await fetch(`${ctx.t.url}/dr/api/v1/auth/f/dcm/${staff.uid}.dcm`, {
        headers: { authorization: `Bearer ${tech.token}` },
      });
      assert.equal(file.status, 200);
      const dx = readPart10(Buffer.from(await file.arrayBuffer()));
      assert.equal(Number(dx.ExposureTime), 40, 'the stored exposure time is the tech’s');
      assert.equal(Number(dx.XRayTubeCurrent), Math.round(Number(gen.MA.Value)), 'the stored tube current is the tech’s');
      assert.equal((await task('leave', tech.token, { study_id: staff.studyId, study_status: 'Completed' })).status, 200);
      assert.equal((await action(guest, 'IncParam_KV', '')).status, 200, 'with the room free, anyone with device:control may');
    });

    test('seam 3: guests together (and per address) have one hourly byte budget; staff are not counted in it', async () => {
      const picture = await noisePng(200, 200); // ~120 KB of pixels: ~240 KB stored per portrait
      const portrait = async (token: string) => {
        const { studyId } = await register(token, token === ctx.admin ? {} : { study_type: 'Emergency' });
        return dr('POST', 'auth/study/portrait', token, { study_id: studyId, data: picture.toString('base64') });
      };
      await setConfig('upload.guest_bytes_per_hour_total', 400_000);
      const first = await portrait(await guestToken());
      assert.equal(first.status, 200, first.text);
      const second = await portrait(await guestToken());
      assert.equal(second.status, 429, `a fresh guest token has no budget of its own beyond the shared one: ${second.text}`);
      assert.ok(isDrError(second.body, UPLOAD_SHARED_QUOTA_EXCEEDED), second.text);
      assert.equal((await portrait(ctx.admin)).status, 200, 'staff uploads are not in the guests’ budget');
      await setConfig('upload.guest_bytes_per_hour_total', 8 * 1024 ** 3);

      await setConfig('upload.guest_bytes_per_hour_per_address', 400_000);
      const fromAddress = await portrait(await guestToken());
      assert.equal(fromAddress.status, 429, `this address already stored ~240 KB this hour: ${fromAddress.text}`);
      assert.ok(isDrError(fromAddress.body, UPLOAD_SHARED_QUOTA_EXCEEDED), fromAddress.text);
      await setConfig('upload.guest_bytes_per_hour_per_address', 4 * 1024 ** 3);
      assert.equal((await portrait(await guestToken())).status, 200);
    });

    test('seam 3: uploads in progress are capped for all guests together, whatever the number of tokens', async () => {
      await setConfig('upload.guest_max_concurrent', 2);
      await setConfig('upload.guest_max_concurrent_per_address', 100); // the bound under test is the one on all guests
      const photo = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#808080' } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      const tokens = await Promise.all([0, 1, 2, 3, 4, 5].map(() => guestToken()));
      const studies = await Promise.all(tokens.map((t) => register(t, { study_type: 'Emergency' })));
      const replies = await Promise.all(
        tokens.map((t, i) => dr('POST', 'auth/study/portrait', t, { study_id: studies[i].studyId, data: photo.toString('base64') })),
      );
      const statuses = replies.map((r) => r.status);
      const refused = replies.filter((r) => r.status === 429);
      assert.ok(refused.length >= 1, `six guest tokens at once, at most two in progress: ${statuses.join()}`);
      for (const r of refused) assert.ok(isDrError(r.body, UPLOAD_CAPACITY_BUSY), r.text);
      assert.ok(statuses.includes(200), statuses.join());
      await setConfig('upload.guest_max_concurrent', 3);
      await setConfig('upload.guest_max_concurrent_per_address', 2);
    });

    test('seam 3: guest tokens are rate-limited per address (the field stays, empty); the new configs are admin-only', async () => {
      await setConfig('auth.guest_tokens_per_minute', 3);
      const answers = [];
      for (let i = 0; i < 6; i++) {
        const res = await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info');
        assert.equal(res.status, 200);
        assert.equal(typeof res.body.data.guest, 'string', 'the field stays');
        answers.push(res.body.data.guest as string);
      }
      const issued = answers.filter(Boolean);
      assert.ok(issued.length <= 3, `at most 3 tokens a minute from one address, got ${issued.length}`);
      assert.deepEqual(answers.slice(3), ['', '', ''], 'once over the limit, the field is empty');
      await setConfig('auth.guest_tokens_per_minute', 100_000);
      assert.notEqual(await guestToken(), '');

      const mgr = await createUser(ctx.t.url, ctx.admin, ['mgr']);
      for (const key of [
        'auth.guest_tokens_per_minute',
        'upload.guest_max_concurrent',
        'upload.max_concurrent_total',
        'upload.guest_bytes_per_hour_total',
      ]) {
        const res = await call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: mgr.token, body: { config_value: 1_000_000 } });
        assert.equal(res.status, 403, `${key} by mgr: ${res.text}`);
      }
    });
  });
}
