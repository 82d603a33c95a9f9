import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { readPart10 } from '../src/dicom/part10.js';
import { DicomReadError } from '../src/dicom/reader.js';
import { dxFor, storeDx } from './dicom-helpers.js';
import { DIALECTS, call, createUser, isDiagnosisError, isDrError, sampleStudy, withServer } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function fetchBytes(base: string, url: string, token?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${url}`, { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const bytes = Buffer.from(await res.arrayBuffer());
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- error envelopes
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, json };
}

/** dciodvfy's verdict on a file: its Error lines (none expected). */
function iodErrors(bytes: Buffer): string[] {
  const file = path.join(os.tmpdir(), `roentgen-iod-${process.pid}-${Date.now()}.dcm`);
  fs.writeFileSync(file, bytes);
  try {
    const report = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
    assert.equal(report.error, undefined, 'dciodvfy is installed');
    return `${report.stdout}${report.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
  } finally {
    fs.rmSync(file, { force: true });
  }
}

const png = (width: number, height: number, deep: boolean) =>
  deep
    ? sharp(
        new Uint16Array(width * height).map((_, i) => (i * 37) % 16000),
        { raw: { width, height, channels: 1 } },
      )
        .toColourspace('grey16')
        .png()
        .toBuffer()
    : sharp(Buffer.alloc(width * height * 3, 150), { raw: { width, height, channels: 3 } })
        .png()
        .toBuffer();

for (const dialect of DIALECTS) {
  describe(`image files, previews and derived objects on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const dr = (method: string, p: string, body?: unknown, token?: string) =>
      call(ctx.t.url, method, `/dr/api/v1/${p}`, { token: token ?? ctx.admin, body });
    /** A registered study whose first image has a stored DX; returns the study and that image's UID. */
    const exposedStudy = async (over: Record<string, unknown> = {}, token?: string) => {
      const res = await dr('POST', 'auth/study', sampleStudy(over), token);
      assert.equal(res.status, 200, res.text);
      const uid: string = res.body.data.series[0].images[0].sop_instance_uid;
      const stored = await storeDx(ctx.t, uid);
      return { study: res.body.data, uid, stored };
    };

    test('a stored image shows its files in the study and serves them by name', async () => {
      const { study, uid, stored } = await exposedStudy();
      assert.deepEqual(stored, { dcm: `${uid}.dcm`, thumbnail: `${uid}.webp` });
      const image = (await dr('GET', `auth/study/${study.study_id}`)).body.data.series[0].images[0];
      assert.equal(image.image_file, `${uid}.dcm`);
      assert.equal(image.thumbnail_file, `${uid}.webp`);
      assert.equal(image.storage_status, 'Saved');

      // Files are private by default (spec reading 9, docs/architecture.md): a token (or the session cookie) is needed.
      const refused = await fetchBytes(ctx.t.url, `/dr/api/v1/pub/thumbnail/${uid}.webp`);
      assert.equal(refused.status, 401);
      assert.ok(isDrError(refused.json, '0x070002'));
      const thumb = await fetchBytes(ctx.t.url, `/dr/api/v1/pub/thumbnail/${uid}.webp`, ctx.admin);
      assert.equal(thumb.status, 200);
      assert.equal(thumb.headers.get('content-type'), 'image/webp');
      const meta = await sharp(thumb.bytes).metadata();
      assert.deepEqual([meta.format, Math.max(meta.width, meta.height)], ['webp', 256]);
      const again = await fetchBytes(ctx.t.url, `/api/v1/pub/thumbnail/${uid}.webp`, ctx.admin, {
        'if-none-match': thumb.headers.get('etag')!,
      });
      assert.equal(again.status, 304);

      // DICOM files are private by default.
      const anonymous = await fetchBytes(ctx.t.url, `/dr/api/v1/pub/dcm/${uid}.dcm`);
      assert.equal(anonymous.status, 401);
      assert.ok(isDrError(anonymous.json, '0x070002'));
      const dcm = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${uid}.dcm`, ctx.admin);
      assert.equal(dcm.status, 200);
      assert.equal(dcm.headers.get('content-type'), 'application/dicom');
      assert.equal(sha(dcm.bytes), sha(await ctx.t.server.services.imageFiles.blobs.read(`dicom/${uid}.dcm`)), 'served as stored');
      assert.equal(readPart10(dcm.bytes).SOPInstanceUID, uid);
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/dcm/${uid}.dcm`, ctx.admin)).status, 200, 'a token opens /pub too');

      // An administrator can make DICOM public; then /pub serves it without a token.
      assert.equal(
        (await call(ctx.t.url, 'PUT', '/api/v1/system/configs/files.public_dicom', { token: ctx.admin, body: { config_value: true } }))
          .status,
        200,
      );
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/dcm/${uid}.dcm`)).status, 200);
      assert.equal(
        (await call(ctx.t.url, 'PUT', '/api/v1/system/configs/files.public_dicom', { token: ctx.admin, body: { config_value: false } }))
          .status,
        200,
      );
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/dcm/${uid}.dcm`)).status, 401);

      // An administrator may make thumbnails public; in the recycle bin a study's thumbnails stop being public.
      const publicThumbnails = (value: boolean) =>
        call(ctx.t.url, 'PUT', '/api/v1/system/configs/files.public_thumbnails', { token: ctx.admin, body: { config_value: value } });
      assert.equal((await publicThumbnails(true)).status, 200);
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/thumbnail/${uid}.webp`)).status, 200);
      assert.equal((await dr('DELETE', 'auth/study', [study.study_id])).status, 200);
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/thumbnail/${uid}.webp`)).status, 404);
      assert.equal((await publicThumbnails(false)).status, 200);
      assert.equal(
        (await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/thumbnail/${uid}.webp`, ctx.admin)).status,
        200,
        'recycle:read still sees it',
      );
    });

    test('path traversal and guessed names are refused: names are looked up, never joined', async () => {
      const { uid } = await exposedStudy();
      const attempts = [
        '..%2F..%2F..%2Fetc%2Fpasswd',
        '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '..%5C..%5Cwindows%5Cwin.ini',
        '%2Fetc%2Fpasswd',
        `dicom%2F${uid}.dcm`,
        `..%2Fdicom%2F${uid}.dcm`,
        `${uid}.dcm%00.webp`,
        `${'a'.repeat(300)}.webp`,
        '.roentgen.sqlite',
        `${uid}.dcm`, // a real name, but of another kind than the route serves
      ];
      for (const name of attempts) {
        for (const route of [`/dr/api/v1/pub/thumbnail/${name}`, `/api/v1/auth/f/thumbnail/${name}`, `/dr/api/v1/auth/f/capture/${name}`]) {
          const res = await fetchBytes(ctx.t.url, route, ctx.admin);
          assert.ok([400, 404, 414].includes(res.status), `${route}: ${res.status}`);
          assert.ok(isDrError(res.json), `${route} answers in the DR envelope`);
          assert.ok(!res.bytes.includes(Buffer.from('root:')), 'no file content leaks');
        }
      }
      const raw = await fetch(`${ctx.t.url}/dr/api/v1/pub/thumbnail/../../../../etc/passwd`);
      assert.equal(raw.status, 404);
    });

    test('diagnosis preview: sizes, formats, window, cache validators; download is byte-identical', async () => {
      const { uid } = await exposedStudy();
      const preview = (q: string, headers: Record<string, string> = {}) =>
        fetchBytes(ctx.t.url, `/api/v1/instances/${uid}/preview${q}`, ctx.admin, headers);
      const thumb = await preview('?size=thumbnail&format=jpeg');
      assert.equal(thumb.status, 200);
      assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(
        await sharp(thumb.bytes)
          .metadata()
          .then((m) => [m.format, m.width, m.height]),
        ['jpeg', 192, 256],
      );
      const original = await preview('?size=original&format=png');
      assert.deepEqual(
        await sharp(original.bytes)
          .metadata()
          .then((m) => [m.format, m.width, m.height, m.channels]),
        ['png', 192, 256, 1],
      );
      const narrow = await preview('?size=original&format=png&window_center=1000&window_width=200');
      assert.notEqual(sha(narrow.bytes), sha(original.bytes), 'the window changes the picture');
      const webp = await preview('?size=small&format=webp');
      assert.equal((await sharp(webp.bytes).metadata()).format, 'webp');
      const repeat = await preview('?size=thumbnail&format=jpeg');
      assert.equal(repeat.headers.get('etag'), thumb.headers.get('etag'));
      assert.equal(sha(repeat.bytes), sha(thumb.bytes));
      assert.equal((await preview('?size=thumbnail&format=jpeg', { 'if-none-match': thumb.headers.get('etag')! })).status, 304);

      for (const bad of ['?size=huge', '?format=gif', '?window_center=10', '?window_center=10&window_width=0', '?window_width=abc']) {
        const res = await preview(bad);
        assert.equal(res.status, 400, bad);
        assert.ok(isDiagnosisError(res.json, 400, 'ValidationError'), bad);
      }
      const missing = await fetchBytes(ctx.t.url, '/api/v1/instances/1.2.3.4/preview', ctx.admin);
      assert.equal(missing.status, 404);
      assert.ok(isDiagnosisError(missing.json, 404));

      const download = await fetchBytes(ctx.t.url, `/api/v1/instances/${uid}/download`, ctx.admin);
      assert.equal(download.status, 200);
      assert.match(download.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="${uid}.dcm"`));
      const viaDr = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${uid}.dcm`, ctx.admin);
      assert.equal(sha(download.bytes), sha(viaDr.bytes));
      assert.deepEqual(iodErrors(download.bytes), []);
    });

    test('an image without pixels, and a user without study:read', async () => {
      const res = await dr('POST', 'auth/study', sampleStudy());
      const uid = res.body.data.series[0].images[0].sop_instance_uid;
      const early = await fetchBytes(ctx.t.url, `/api/v1/instances/${uid}/preview`, ctx.admin);
      assert.equal(early.status, 409);
      assert.ok(isDiagnosisError(early.json, 409));
      const { uid: stored } = await exposedStudy();
      const service = await createUser(ctx.t.url, ctx.admin, []);
      assert.equal((await fetchBytes(ctx.t.url, `/api/v1/instances/${stored}/download`, service.token)).status, 403);
    });

    test('the guest reads files of its own emergency study only', async () => {
      const guest = (await call(ctx.t.url, 'GET', '/dr/api/v1/pub/software_info')).body.data.guest;
      const own = await exposedStudy({ study_type: 'Emergency' }, guest);
      const other = await exposedStudy();
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${own.uid}.dcm`, guest)).status, 200);
      const refused = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${other.uid}.dcm`, guest);
      assert.equal(refused.status, 404, 'another study does not exist for a guest session');
      assert.ok(isDrError(refused.json, '0x070001'));
    });

    test('bad objects are refused and leave nothing behind', async () => {
      const res = await dr('POST', 'auth/study', sampleStudy());
      const uid = res.body.data.series[0].images[0].sop_instance_uid;
      const files = ctx.t.server.services.imageFiles;
      const count = async () =>
        (
          await ctx.t.server.db.kysely
            .selectFrom('stored_files')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n;
      const blobCount = () =>
        fs
          .readdirSync(path.join(ctx.t.dataDir, 'blobs'), { recursive: true })
          .filter((f) => String(f).endsWith('.dcm') || String(f).endsWith('.webp')).length;
      const [rowsBefore, blobsBefore] = [await count(), blobCount()];
      const invalid = (pattern: RegExp) => (e: unknown) => e instanceof DicomReadError && pattern.test(e.message);
      await assert.rejects(files.storeImage(uid, dxFor('1.2.3.999')), invalid(/SOP Instance UID/));
      await assert.rejects(files.storeImage(uid, Buffer.from('junk'.repeat(100))), invalid(/not a DICOM file/));
      const truncated = dxFor(uid).subarray(0, 2000);
      await assert.rejects(files.storeImage(uid, truncated));
      assert.equal(await count(), rowsBefore);
      assert.equal(blobCount(), blobsBefore);
      assert.equal((await dr('GET', `auth/study/${res.body.data.study_id}`)).body.data.series[0].images[0].image_file, '');
    });

    test('portrait: PNG (base64) → Secondary Capture in the study; replaced by a newer one; bad input refused', async () => {
      const res = await dr('POST', 'auth/study', sampleStudy({ study_type: 'Emergency', patient_name: '急诊患者' }));
      const study = res.body.data;
      const photo = await png(64, 48, false);
      const first = await dr('POST', 'auth/study/portrait', { study_id: study.study_id, data: photo.toString('base64') });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.data['@type'], 'type.googleapis.com/dr.task.DcmPath');
      const name: string = first.body.data.path;
      assert.match(name, /^2\.25\.\d+\.dcm$/);
      const detail = (await dr('GET', `auth/study/${study.study_id}`)).body.data;
      assert.deepEqual([detail.portrait_status, detail.portrait_file], ['Saved', name]);
      const dcm = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${name}`, ctx.admin);
      assert.equal(dcm.status, 200);
      assert.deepEqual(iodErrors(dcm.bytes), []);
      const sc = readPart10(dcm.bytes);
      assert.deepEqual(
        [sc.SOPClassUID, sc.Modality, sc.StudyInstanceUID, sc.Rows, sc.Columns],
        ['1.2.840.10008.5.1.4.1.1.7', 'XC', study.study_instance_uid, 48, 64],
      );
      const capture = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/capture/${name.replace(/\.dcm$/, '.png')}`, ctx.admin);
      assert.equal(sha(capture.bytes), sha(photo), 'the capture is the picture as sent');
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/pub/capture/${name.replace(/\.dcm$/, '.png')}`)).status, 401);

      const second = await dr('POST', 'auth/study/portrait', {
        study_id: study.study_id,
        data: `data:image/png;base64,${photo.toString('base64')}`,
      });
      assert.equal(second.status, 200);
      assert.notEqual(second.body.data.path, name);
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${name}`, ctx.admin)).status, 404, 'the old portrait is gone');

      const jpeg = await sharp(Buffer.alloc(300, 1), { raw: { width: 10, height: 10, channels: 3 } })
        .jpeg()
        .toBuffer();
      const cases: [Record<string, unknown>, number, string][] = [
        [{ study_id: study.study_id, data: 'not base64 at all!' }, 400, '0x010001'],
        [{ study_id: study.study_id, data: jpeg.toString('base64') }, 422, '0x070006'],
        [{ study_id: '999999999999999', data: photo.toString('base64') }, 404, '0x060001'],
        [{ study_id: study.study_id, data: photo.toString('base64'), instance_uid: '1.2.3' }, 404, '0x060003'],
        [{ study_id: study.study_id }, 400, '0x010001'],
      ];
      for (const [body, status, code] of cases) {
        const bad = await dr('POST', 'auth/study/portrait', body);
        assert.equal(bad.status, status, JSON.stringify(body).slice(0, 80));
        assert.ok(isDrError(bad.body, code), bad.text);
      }
    });

    test('post_proc: 16-bit grey → derived DX, colour → derived SC; window_wdith accepted; bad forms refused', async () => {
      const { study, uid } = await exposedStudy();
      const form = (fields: Record<string, string>, file?: Buffer) => {
        const f = new FormData();
        for (const [k, v] of Object.entries(fields)) f.append(k, v);
        if (file) f.append('data', new Blob([new Uint8Array(file)], { type: 'image/png' }), 'pp.png');
        return fetch(`${ctx.t.url}/api/v1/auth/image/post_proc`, {
          method: 'POST',
          body: f,
          headers: { authorization: `Bearer ${ctx.admin}` },
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      };
      const fields = { instance_uid: uid, study_id: study.study_id, window_center: '4000', window_width: '8000' };
      const deep = await form(fields, await png(96, 128, true));
      assert.equal(deep.status, 200, JSON.stringify(deep.body));
      const dx = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${deep.body.data.path}`, ctx.admin);
      assert.deepEqual(iodErrors(dx.bytes), []);
      const derived = readPart10(dx.bytes);
      assert.equal(derived.SOPClassUID, '1.2.840.10008.5.1.4.1.1.1.1');
      assert.deepEqual(derived.ImageType, ['DERIVED', 'SECONDARY', '']);
      assert.equal(derived.WindowCenter, 4000);
      assert.equal((derived.SourceImageSequence as { ReferencedSOPInstanceUID: string }[])[0].ReferencedSOPInstanceUID, uid);
      const image = (await dr('GET', `auth/study/${study.study_id}`)).body.data.series[0].images[0];
      assert.equal(`${image.secondary_sop_uid}.dcm`, deep.body.data.path);

      const typo: Record<string, string> = { ...fields };
      delete typo.window_width;
      const colour = await form({ ...typo, window_wdith: '8000' }, await png(40, 30, false));
      assert.equal(colour.status, 200, JSON.stringify(colour.body));
      const sc = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${colour.body.data.path}`, ctx.admin);
      assert.deepEqual(iodErrors(sc.bytes), []);
      assert.equal(readPart10(sc.bytes).SOPClassUID, '1.2.840.10008.5.1.4.1.1.7');

      const unexposed = (await dr('POST', 'auth/study', sampleStudy())).body.data;
      const cases: [Record<string, string>, Buffer | undefined, number, string][] = [
        [{ ...fields, window_center: 'abc' }, await png(8, 8, true), 400, '0x010001'],
        [typo, await png(8, 8, true), 400, '0x010001'],
        [fields, undefined, 400, '0x010001'],
        [fields, Buffer.from('not a png'), 422, '0x070006'],
        [{ ...fields, study_id: unexposed.study_id }, await png(8, 8, true), 404, '0x060003'],
        [
          { ...fields, instance_uid: unexposed.series[0].images[0].sop_instance_uid, study_id: unexposed.study_id },
          await png(8, 8, true),
          409,
          '0x070005',
        ],
      ];
      for (const [f, file, status, code] of cases) {
        const bad = await form(f, file);
        assert.equal(bad.status, status, JSON.stringify(f));
        assert.ok(isDrError(bad.body, code), JSON.stringify(bad.body));
      }
      const json = await dr('POST', 'auth/image/post_proc', fields);
      assert.equal(json.status, 400, 'a JSON body is not the form');
    });

    test('save_as copies the DICOM file to the export folder and marks the image exported', async () => {
      // Inside the default export root (<data dir>/exports); elsewhere is refused (server/test/security/edges.test.ts).
      const exportDir = path.join(ctx.t.dataDir, 'exports', 'stick');
      try {
        assert.equal(
          (await call(ctx.t.url, 'PUT', '/api/v1/system/configs/export.directory', { token: ctx.admin, body: { config_value: exportDir } }))
            .status,
          200,
        );
        const { study, uid } = await exposedStudy();
        const res = await dr('POST', 'auth/image/save_as', { instance_uid: uid });
        assert.equal(res.status, 200, res.text);
        const written = path.join(exportDir, `${study.patient_id}_${study.study_id}`, `${uid}.dcm`);
        const stored = await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${uid}.dcm`, ctx.admin);
        assert.equal(sha(fs.readFileSync(written)), sha(stored.bytes));
        assert.equal((await dr('GET', `auth/study/${study.study_id}`)).body.data.series[0].images[0].export_status, 'Exported');
        assert.equal((await dr('POST', 'auth/image/save_as', { instance_uid: '1.2.3' })).status, 404);
      } finally {
        fs.rmSync(exportDir, { recursive: true, force: true });
      }
    });

    test('deleting a rejected image removes its files', async () => {
      const { uid } = await exposedStudy();
      await ctx.t.server.db.kysely
        .updateTable('images')
        .set({ expose_status: 'Exposed', judged_status: 'Reject' })
        .where('sop_instance_uid', '=', uid)
        .execute();
      assert.equal((await dr('DELETE', `auth/image/${uid}`)).status, 200);
      assert.equal((await fetchBytes(ctx.t.url, `/dr/api/v1/auth/f/dcm/${uid}.dcm`, ctx.admin)).status, 404);
      const left = fs.readdirSync(path.join(ctx.t.dataDir, 'blobs'), { recursive: true }).filter((f) => String(f).includes(uid));
      assert.deepEqual(left, []);
    });
  });
}
