import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { storeDx } from '../dicom-helpers.js';
import { DIALECTS, call, isDrError, sampleStudy, withServer } from '../helpers.js';

/** A PNG of `width` × `height` made by libvips without a JS buffer of its pixels (a decompression bomb when large). */
const flatPng = (width: number, height: number, kind: 'rgb' | 'grey16') => {
  const image = sharp({ create: { width, height, channels: 3, background: { r: 40, g: 90, b: 160 } } });
  return (kind === 'grey16' ? image.toColourspace('grey16') : image).png({ compressionLevel: 9 }).toBuffer();
};

function blobFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'blobs');
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(root, f)).isFile());
}

for (const dialect of DIALECTS) {
  describe(`finding 4: decoded sizes, upload concurrency and quotas on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, p: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/${p}`, { token: token ?? ctx.admin, body });
    const guestToken = async (): Promise<string> => (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
    const setConfig = async (key: string, value: number) => {
      const res = await call(ctx.t.url, 'PUT', `/api/v1/system/configs/${key}`, { token: ctx.admin, body: { config_value: value } });
      assert.equal(res.status, 200, res.text);
    };
    const emergencyStudy = async (token: string): Promise<string> => {
      const res = await dr('POST', 'auth/study', sampleStudy({ study_type: 'Emergency' }), token);
      assert.equal(res.status, 200, res.text);
      return res.body.data.study_id;
    };
    const postProc = (token: string, fields: Record<string, string>, file: Buffer) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      form.append('data', new Blob([new Uint8Array(file)], { type: 'image/png' }), 'pp.png');
      return fetch(`${ctx.t.url}/api/v1/auth/image/post_proc`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${token}` },
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    };

    test('a guest 7000 × 7000 PNG portrait (~200 KB) is refused from its header: 413, nothing stored, no memory spike', async () => {
      const guest = await guestToken();
      const studyId = await emergencyStudy(guest);
      const bomb = await flatPng(7000, 7000, 'rgb');
      assert.ok(bomb.length < 1024 * 1024, `the bomb is small on the wire (${bomb.length} bytes)`);
      const blobsBefore = blobFiles(ctx.t.dataDir).length;
      const rssBefore = process.memoryUsage().rss;
      const replies = await Promise.all(
        [0, 1, 2].map(() => dr('POST', 'auth/study/portrait', { study_id: studyId, data: bomb.toString('base64') }, guest)),
      );
      const grown = process.memoryUsage().rss - rssBefore;
      // Each is refused from its header (413), or by the per-user bound on uploads in flight (429).
      for (const res of replies) {
        assert.ok(res.status === 413 ? isDrError(res.body, '0x0E0001') : res.status === 429 && isDrError(res.body, '0x0E0003'), res.text);
      }
      assert.ok(replies.some((r) => r.status === 413));
      const alone = await dr('POST', 'auth/study/portrait', { study_id: studyId, data: bomb.toString('base64') }, guest);
      assert.equal(alone.status, 413, alone.text);
      assert.match(alone.text, /7000 × 7000/);
      // Before the limits, each of these decoded to 147 MB and stored a 147 MB DICOM (RSS +300 MB each).
      assert.ok(grown < 100 * 1024 * 1024, `RSS grew ${Math.round(grown / 1024 / 1024)} MB`);
      assert.equal(blobFiles(ctx.t.dataDir).length, blobsBefore, 'no blob written');
      const detail = (await dr('GET', `auth/study/${studyId}`, undefined, guest)).body.data;
      assert.notEqual(detail.portrait_status, 'Saved');
    });

    test('a 16-bit post_proc bomb and a picture over the decoded-bytes cap are refused before decoding', async () => {
      const res = await dr('POST', 'auth/study', sampleStudy());
      const study = res.body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      const fields = { instance_uid: uid, study_id: study.study_id, window_center: '4000', window_width: '8000' };
      const bomb = await flatPng(6000, 6000, 'grey16');
      const refused = await postProc(ctx.admin, fields, bomb);
      assert.equal(refused.status, 413, JSON.stringify(refused.body));
      assert.ok(isDrError(refused.body, '0x0E0001'));
      assert.match(JSON.stringify(refused.body), /upload\.max_pixels/);
      // 5000 × 5000 is within the pixel limit, but as RGB it decodes to 75 MB, over the 64 MiB cap.
      const wide = await postProc(ctx.admin, fields, await flatPng(5000, 5000, 'rgb'));
      assert.equal(wide.status, 413, JSON.stringify(wide.body));
      assert.match(JSON.stringify(wide.body), /upload\.max_decoded_bytes/);
      const image = (await dr('GET', `auth/study/${study.study_id}`)).body.data.series[0].images[0];
      assert.equal(image.secondary_sop_uid ?? '', '', 'no post-processed object was stored');
      // A detector-sized 16-bit picture still goes through.
      const ok = await postProc(ctx.admin, fields, await flatPng(1024, 1024, 'grey16'));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    test('uploads in flight per user are bounded (429), hourly bytes per guest session too, objects bounded (413)', async () => {
      await setConfig('upload.max_concurrent_per_user', 1);
      const guest = await guestToken();
      const studyId = await emergencyStudy(guest);
      const photo = await sharp({ create: { width: 2400, height: 2400, channels: 3, background: '#808080' } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      const replies = await Promise.all(
        [0, 1, 2, 3].map(() => dr('POST', 'auth/study/portrait', { study_id: studyId, data: photo.toString('base64') }, guest)),
      );
      const statuses = replies.map((r) => r.status).sort();
      assert.ok(statuses.includes(200), statuses.join());
      const busy = replies.filter((r) => r.status === 429);
      assert.ok(busy.length > 0, `some refused while one was in flight: ${statuses.join()}`);
      for (const r of busy) assert.ok(isDrError(r.body, '0x0E0003'), r.text);
      await setConfig('upload.max_concurrent_per_user', 2);

      // The hourly quota: 200 × 200 RGB is ~120 KB of DICOM; a 300 KB quota admits two, not three.
      await setConfig('upload.guest_bytes_per_hour', 300_000);
      const small = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#406080' } })
        .png()
        .toBuffer();
      const session = await guestToken();
      const sessionStudy = await emergencyStudy(session);
      const upload = (token: string, study: string) =>
        dr('POST', 'auth/study/portrait', { study_id: study, data: small.toString('base64') }, token);
      assert.equal((await upload(session, sessionStudy)).status, 200);
      assert.equal((await upload(session, sessionStudy)).status, 200);
      const over = await upload(session, sessionStudy);
      assert.equal(over.status, 429, over.text);
      assert.ok(isDrError(over.body, '0x0E0004'), over.text);
      // Another guest session (console) has its own share.
      const other = await guestToken();
      assert.equal((await upload(other, await emergencyStudy(other))).status, 200);
      await setConfig('upload.guest_bytes_per_hour', 256 * 1024 * 1024);

      await setConfig('upload.max_object_bytes', 50_000);
      const big = await upload(other, await emergencyStudy(other));
      assert.equal(big.status, 413, big.text);
      assert.ok(isDrError(big.body, '0x0E0002'), big.text);
      await setConfig('upload.max_object_bytes', 96 * 1024 * 1024);

      // upload.max_file_size now bounds the picture as sent, too.
      await setConfig('upload.max_file_size', 1024);
      const sent = await upload(other, await emergencyStudy(other));
      assert.equal(sent.status, 413, sent.text);
      assert.ok(isDrError(sent.body, '0x010003'), sent.text);
      assert.match(sent.text, /upload\.max_file_size/);
      await setConfig('upload.max_file_size', 100 * 1024 * 1024);
    });
  });
}
