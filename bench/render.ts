/**
 * Render benchmark (issue 4): one 3072 × 3072, 14-bit DX For Presentation, rendered as a 256 px
 * WebP thumbnail and as a full-size JPEG by our server over HTTP, next to Orthanc's
 * /instances/{id}/preview (and /rendered at 256 px) and DCMTK's dcmj2pnm on the same file, in
 * the same run. Our render cache is off (RENDER_CACHE_MB=0) so every request renders.
 *
 *   node --import tsx bench/render.ts [--runs 15]
 *
 * Needs Debian's orthanc and dcmtk. Orthanc runs from a temporary config that refuses remote
 * access; everything talks to 127.0.0.1 only. Target: ≥ 2× faster than Orthanc's preview.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer } from '../server/src/app.js';
import { loadConfig } from '../server/src/config.js';
import { startOrthanc } from '../server/test-support/dicom-peers.js';
import { writeDx } from '../server/src/dicom/dx-writer.js';
import { generateUid } from '../server/src/util/uid.js';
import { sampleStudy } from '../server/test-support/sample-study.js';

const args = new Map(
  process.argv
    .slice(2)
    .map((a, i, all) => [a, all[i + 1]] as const)
    .filter(([a]) => a.startsWith('--')),
);
const RUNS = Number(args.get('--runs') ?? 15);
const SIZE = 3072;

/** A chest-like 14-bit image: smooth anatomy-ish structure plus quantum noise, raw-beam border. */
function radiograph(): Uint16Array {
  const data = new Uint16Array(SIZE * SIZE);
  let seed = 12345;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5) * 300;
  for (let y = 0; y < SIZE; y += 1) {
    for (let x = 0; x < SIZE; x += 1) {
      const u = x / SIZE - 0.5;
      const v = y / SIZE - 0.5;
      const body = Math.exp(-(u * u) / 0.08 - (v * v) / 0.12);
      const ribs = 0.15 * Math.sin(y / 40) * body;
      const value = x < 60 || x > SIZE - 60 ? 15_500 : 3000 + 9000 * (1 - body) + 1200 * ribs + noise();
      data[y * SIZE + x] = Math.max(0, Math.min(16383, Math.round(value)));
    }
  }
  return data;
}

function stats(ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95) };
}

async function time(runs: number, fn: () => Promise<unknown>): Promise<{ median: number; p95: number }> {
  await fn(); // warm-up (wasm/codec instantiation, first-request costs)
  const ms: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return stats(ms);
}

async function fetchOk(url: string, init?: RequestInit): Promise<Buffer> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-render-bench-'));
  const cleanups: (() => Promise<void> | void)[] = [() => fs.rmSync(dir, { recursive: true, force: true })];
  try {
    const env = {
      ROENTGEN_DATA_DIR: path.join(dir, 'data'),
      DICOM_PORT: '0',
      LOG_LEVEL: 'silent',
      ROENTGEN_ADMIN_PASSWORD: 'Bench-Console-Pass-42',
      RENDER_CACHE_MB: '0',
      RATE_LIMIT_PER_MINUTE: '1000000',
    };
    const server = await createServer(loadConfig(env));
    cleanups.unshift(() => server.close());
    const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'Bench-Console-Pass-42' }),
    });
    const token = ((await login.json()) as { data: { access_token: string } }).data.access_token;
    const auth = { authorization: `Bearer ${token}` };
    const study = await fetch(`${base}/dr/api/v1/auth/study`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(sampleStudy()),
    });
    const uid = ((await study.json()) as { data: { series: { images: { sop_instance_uid: string }[] }[] } }).data.series[0].images[0]
      .sop_instance_uid;

    const dx = writeDx({
      patient: { id: 'BENCH', name: 'Bench^Render', birthDate: '19800101', sex: 'F', age: '045Y' },
      study: { instanceUid: generateUid(), id: '1', accessionNumber: '', referringPhysician: '', date: new Date() },
      series: { instanceUid: generateUid(), number: 1, description: 'Chest PA' },
      instance: { sopInstanceUid: uid, number: 1, acquired: new Date() },
      view: { position: 'PA', laterality: 'U', bodyPart: 'CHEST', orientation: ['L', 'F'], sidMm: 1800 },
      exposure: { kV: 120, mA: 250, ms: 10, mAs: 2.5 },
      detector: { pixelSpacingMm: [0.139, 0.139], type: 'SCINTILLATOR' },
      pixels: { rows: SIZE, columns: SIZE, bitsStored: 14, data: radiograph() },
      window: { center: 8000, width: 12000 },
      intent: 'FOR PRESENTATION',
      equipment: { manufacturer: 'Roentgen', model: 'Bench', stationName: 'BENCH', softwareVersion: '0' },
    });
    const file = path.join(dir, 'dx.dcm');
    fs.writeFileSync(file, dx);
    const storeStart = performance.now();
    await server.services.imageFiles.storeImage(uid, dx);
    const storeMs = performance.now() - storeStart;
    console.log(
      `file: ${SIZE}×${SIZE} 14-bit DX, ${(dx.length / 1024 / 1024).toFixed(1)} MB; store incl. WebP thumbnail: ${storeMs.toFixed(0)} ms; ${RUNS} runs each, after one warm-up\n`,
    );

    const ours = {
      thumbnail: await time(RUNS, () => fetchOk(`${base}/api/v1/instances/${uid}/preview?size=thumbnail&format=webp`, { headers: auth })),
      full: await time(RUNS, () => fetchOk(`${base}/api/v1/instances/${uid}/preview?size=original&format=jpeg`, { headers: auth })),
      storedThumb: await time(RUNS, () => fetchOk(`${base}/dr/api/v1/pub/thumbnail/${uid}.webp`, { headers: auth })),
    };

    const orthanc = await startOrthanc({ dicom: false });
    cleanups.unshift(() => orthanc.stop());
    const uploaded = JSON.parse((await fetchOk(`${orthanc.url}/instances`, { method: 'POST', body: new Uint8Array(dx) })).toString()) as {
      ID: string;
    };
    const theirs = {
      preview: await time(RUNS, () => fetchOk(`${orthanc.url}/instances/${uploaded.ID}/preview`)),
      previewJpeg: await time(RUNS, () =>
        fetchOk(`${orthanc.url}/instances/${uploaded.ID}/preview`, { headers: { accept: 'image/jpeg' } }),
      ),
      rendered256: await time(RUNS, () =>
        fetchOk(`${orthanc.url}/instances/${uploaded.ID}/rendered?width=256`, { headers: { accept: 'image/jpeg' } }),
      ),
    };

    const dcmtk = {
      fullJpeg: await time(RUNS, async () => execFileSync('dcmj2pnm', ['+oj', '+Wi', '1', file, path.join(dir, 'out.jpg')])),
      thumbPng: await time(RUNS, async () => execFileSync('dcmj2pnm', ['+on', '+Wi', '1', '+Sxv', '256', file, path.join(dir, 'out.png')])),
    };

    const row = (name: string, s: { median: number; p95: number }, ratio?: string) =>
      console.log(
        `${name.padEnd(58)} median ${s.median.toFixed(1).padStart(7)} ms   p95 ${s.p95.toFixed(1).padStart(7)} ms${ratio ? `   ${ratio}` : ''}`,
      );
    const x = (peer: number, us: number) => `(peer / ours = ${(peer / us).toFixed(2)}×)`;
    row('ours: thumbnail 256 px WebP (render, no cache)', ours.thumbnail);
    row('ours: full-size JPEG (render, no cache)', ours.full);
    row('ours: stored thumbnail (/pub/thumbnail, written at store)', ours.storedThumb);
    row('Orthanc: /instances/{id}/preview (full-size PNG)', theirs.preview, x(theirs.preview.median, ours.full.median));
    row('Orthanc: /instances/{id}/preview, Accept: image/jpeg', theirs.previewJpeg, x(theirs.previewJpeg.median, ours.full.median));
    row('Orthanc: /instances/{id}/rendered?width=256 (JPEG)', theirs.rendered256, x(theirs.rendered256.median, ours.thumbnail.median));
    row('DCMTK: dcmj2pnm full-size JPEG (incl. process start)', dcmtk.fullJpeg, x(dcmtk.fullJpeg.median, ours.full.median));
    row('DCMTK: dcmj2pnm 256 px PNG (incl. process start)', dcmtk.thumbPng, x(dcmtk.thumbPng.median, ours.thumbnail.median));
    const target = Math.min(theirs.preview.median / ours.full.median, theirs.previewJpeg.median / ours.full.median);
    console.log(
      `\ntarget ≥ 2× faster than Orthanc's preview: ${target >= 2 ? 'met' : 'NOT met'} (${target.toFixed(2)}×, full-size against full-size)`,
    );
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

await main();
