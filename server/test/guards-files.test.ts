import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { storeDx } from './dicom-helpers.js';
import { DIALECTS, call, createUser, isDrError, sampleStudy, withServer } from './helpers.js';

/** Grey levels of a PNG at (row, column) points. */
async function greyAt(png: Buffer, points: [number, number][]): Promise<number[]> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return points.map(([row, column]) => data[(row * info.width + column) * info.channels]);
}

/** The linear VOI window of PS3.3 C.11.2.1.2.1 onto 0..255, to predict what a preview shows. */
function windowed(value: number, center: number, width: number): number {
  const [low, high] = [center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2];
  if (value <= low) return 0;
  if (value > high) return 255;
  return ((value - (center - 0.5)) / (width - 1) + 0.5) * 255;
}

/** A GET sent with its path exactly as given (fetch would resolve the dot segments first). */
function rawGet(base: string, rawPath: string, token: string): Promise<{ status: number; body: Buffer }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: rawPath, method: 'GET', headers: { authorization: `Bearer ${token}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

for (const dialect of DIALECTS) {
  describe(`preview window on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('window centre and width land where PS3.3 puts them, checked at known pixels', async () => {
      const res = await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() });
      const uid: string = res.body.data.series[0].images[0].sop_instance_uid;
      // Left half 1000, right half 3000 (14-bit, no rescale).
      const [rows, columns] = [64, 64];
      const data = new Uint16Array(rows * columns).map((_, i) => (i % columns < columns / 2 ? 1000 : 3000));
      await storeDx(ctx.t, uid, { pixels: { rows, columns, bitsStored: 14, data } });
      const points: [number, number][] = [
        [32, 8],
        [32, 56],
      ];
      const preview = async (center: number, width: number) => {
        const r = await fetch(
          `${ctx.t.url}/api/v1/instances/${uid}/preview?size=original&format=png&window_center=${center}&window_width=${width}`,
          { headers: { authorization: `Bearer ${ctx.admin}` } },
        );
        assert.equal(r.status, 200);
        return greyAt(Buffer.from(await r.arrayBuffer()), points);
      };
      // Windows for which swapping centre and width gives other grey levels.
      for (const [center, width] of [
        [2000, 4000],
        [3000, 1000],
        [1000, 3000],
      ] as const) {
        const seen = await preview(center, width);
        const expected = [1000, 3000].map((v) => windowed(v, center, width));
        const swapped = [1000, 3000].map((v) => windowed(v, width, center));
        seen.forEach((grey, i) =>
          assert.ok(
            Math.abs(grey - expected[i]) <= 1.5,
            `c=${center} w=${width}: ${seen.join(',')} expected ${expected.map(Math.round).join(',')}`,
          ),
        );
        assert.ok(
          expected.some((e, i) => Math.abs(e - swapped[i]) > 20),
          'the window tells centre from width',
        );
      }
    });
  });

  describe(`file routes never join a client's name into a path on ${dialect}`, () => {
    const ctx = withServer(dialect);
    const secret = `PLANTED-${randomUUID()}`;
    let planted: string[] = [];
    before(() => {
      // Beside the data directory (in its parent) and at its top: places a joined name can reach.
      const beside = path.join(path.dirname(ctx.t.dataDir), `roentgen-planted-${randomUUID().slice(0, 8)}.webp`);
      const inside = path.join(ctx.t.dataDir, 'planted.webp');
      for (const file of [beside, inside]) fs.writeFileSync(file, secret);
      planted = [beside, inside];
    });
    after(() => {
      for (const file of planted) fs.rmSync(file, { force: true });
    });

    /** Names that climb 1..20 levels to the planted files and /etc/passwd, spelled several ways. */
    const names = (): string[] => {
      const [beside] = planted as [string, string];
      const targets = (depth: number) => [
        `${'../'.repeat(depth)}${path.basename(beside)}`,
        `${'../'.repeat(depth)}${path.basename(ctx.t.dataDir)}/planted.webp`,
        `${'../'.repeat(depth)}${beside.slice(1)}`,
        `${'../'.repeat(depth)}etc/passwd`,
      ];
      const spellings = [
        (s: string) => encodeURIComponent(s),
        (s: string) => s.replace(/\./g, '%2e').replace(/\//g, '%2f'),
        (s: string) => encodeURIComponent(s).replace(/%2F/g, '%5C'),
        (s: string) => encodeURIComponent(encodeURIComponent(s)),
        (s: string) => encodeURIComponent(s.replace(/\.\.\//g, '....//')),
      ];
      const all = new Set<string>();
      // Every depth spelled plainly; the other spellings at the depths that reach the data directory's parent, and at 20.
      for (let depth = 1; depth <= 20; depth += 1) for (const t of targets(depth)) all.add(spellings[0](t));
      for (const depth of [2, 3, 4, 5, 6, 20]) for (const t of targets(depth)) for (const spell of spellings.slice(1)) all.add(spell(t));
      for (const absolute of [beside, '/etc/passwd', path.join(ctx.t.dataDir, 'planted.webp')]) {
        all.add(encodeURIComponent(absolute));
        all.add(encodeURIComponent(`.${absolute}`));
      }
      return [...all];
    };
    const ROUTES = [
      '/dr/api/v1/pub/thumbnail/',
      '/dr/api/v1/auth/f/thumbnail/',
      '/api/v1/pub/thumbnail/',
      '/api/v1/auth/f/thumbnail/',
      '/dr/api/v1/pub/dcm/',
      '/dr/api/v1/auth/f/dcm/',
      '/dr/api/v1/pub/capture/',
      '/dr/api/v1/auth/f/capture/',
    ];

    test('deep and encoded ../ chains and absolute paths get a not-found in the envelope, never the planted bytes', async () => {
      // A real stored image: its own name is served, so the routes work.
      const study = (await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() })).body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      const own = await fetch(`${ctx.t.url}/dr/api/v1/pub/thumbnail/${uid}.webp`, { headers: { authorization: `Bearer ${ctx.admin}` } });
      assert.equal(own.status, 200);
      const requests = names().flatMap((name) =>
        ROUTES.flatMap((route) =>
          (route.includes('/pub/') ? [ctx.admin, undefined] : [ctx.admin]).map((token) => ({ name, route, token })),
        ),
      );
      const check = async ({ name, route, token }: (typeof requests)[number]) => {
        const res = await fetch(`${ctx.t.url}${route}${name}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        const body = Buffer.from(await res.arrayBuffer());
        const where = `${route}${name} (${token ? 'token' : 'no token'})`;
        assert.ok(!body.includes(secret) && !body.includes('root:'), `${where}: no planted or system file content`);
        assert.ok(token ? res.status === 404 : [401, 404].includes(res.status), `${where}: ${res.status}`);
        const json = JSON.parse(body.toString('utf8')) as unknown;
        assert.ok(
          isDrError(json, res.status === 404 ? '0x070001' : undefined),
          `${where}: the DR envelope ${body.toString('utf8').slice(0, 200)}`,
        );
      };
      // A few at a time: thousands of requests one by one take long on a loaded machine.
      for (let i = 0; i < requests.length; i += 8) await Promise.all(requests.slice(i, i + 8).map(check));
      const checked = requests.length;
      assert.ok(checked > 1500, `${checked} requests`);
      // Unencoded dot segments sent as they are (no client normalising them).
      for (const route of ROUTES) {
        for (const depth of [4, 20]) {
          const res = await rawGet(ctx.t.url, `${route}${'../'.repeat(depth)}etc/passwd`, ctx.admin);
          assert.equal(res.status, 404, route);
          assert.ok(!res.body.includes('root:') && !res.body.includes(secret));
        }
      }
      // The diagnosis face looks instances up by UID: a path is not one.
      for (const name of [encodeURIComponent(`${'../'.repeat(20)}etc/passwd`), encodeURIComponent(planted[0])]) {
        for (const what of ['download', 'preview']) {
          const res = await fetch(`${ctx.t.url}/api/v1/instances/${name}/${what}`, { headers: { authorization: `Bearer ${ctx.admin}` } });
          const body = Buffer.from(await res.arrayBuffer());
          assert.ok([400, 404].includes(res.status), `${what} ${name}: ${res.status}`);
          assert.ok(!body.includes(secret) && !body.includes('root:'));
        }
      }
    });
  });

  describe(`a binned study's files on ${dialect}`, () => {
    const ctx = withServer(dialect);

    test('are not found for a reader without recycle:read, on every file route and the download; recycle:read still reads them', async () => {
      const study = (await call(ctx.t.url, 'POST', '/dr/api/v1/auth/study', { token: ctx.admin, body: sampleStudy() })).body.data;
      const uid: string = study.series[0].images[0].sop_instance_uid;
      await storeDx(ctx.t, uid);
      // A radiologist reads studies but not the recycle bin.
      const doctor = await createUser(ctx.t.url, ctx.admin, ['doctor']);
      const paths = [
        `/dr/api/v1/auth/f/thumbnail/${uid}.webp`,
        `/dr/api/v1/pub/thumbnail/${uid}.webp`,
        `/dr/api/v1/auth/f/dcm/${uid}.dcm`,
        `/api/v1/instances/${uid}/download`,
      ];
      const status = async (p: string, token: string) =>
        (await fetch(`${ctx.t.url}${p}`, { headers: { authorization: `Bearer ${token}` } })).status;
      for (const p of paths) assert.equal(await status(p, doctor.token), 200, `${p} while the study is live`);
      assert.equal((await call(ctx.t.url, 'DELETE', '/dr/api/v1/auth/study', { token: ctx.admin, body: [study.study_id] })).status, 200);
      for (const p of paths) {
        const res = await fetch(`${ctx.t.url}${p}`, { headers: { authorization: `Bearer ${doctor.token}` } });
        assert.equal(res.status, 404, `${p} in the bin, without recycle:read`);
        assert.ok(!Buffer.from(await res.arrayBuffer()).includes(Buffer.from('DICM')), `${p}: no file content`);
      }
      for (const p of paths) assert.equal(await status(p, ctx.admin), 200, `${p} in the bin, with recycle:read`);
    });
  });
}
