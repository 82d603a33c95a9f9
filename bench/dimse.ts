/**
 * DIMSE benchmark (issue 6): our C-STORE SCU against DCMTK's storescu, both sending the same
 * files to the same DCMTK storescp on 127.0.0.1, in one run: 100 × ~130 KB and 20 × ~18 MB DX
 * objects, one association per batch. storescu's time includes its process start, as a
 * console calling it would pay.
 *
 *   node --import tsx bench/dimse.ts [--runs 5] [--warmup 3] [--only scu|scp]
 *
 * Then the SCP side: DCMTK storescu sends the same batches to our server's C-STORE SCP and to
 * Orthanc's (temporary config, default storage: SyncStorageArea, so fsynced like ours), one
 * after the other, and storescu's wall times are compared. Both acknowledge an object once it is
 * durable on disk; Orthanc has also indexed it by then, we index it on another thread once the
 * sender pauses (the ingest journal), so the time until our last object is in the index is
 * printed too, and our thumbnails are finished before Orthanc's turn so they do not take its CPU.
 *
 * Targets: SCU ≥ 1.0× storescu, SCP ≥ 2× Orthanc.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeDx } from '../server/src/dicom/dx-writer.js';
import { testPattern } from '../server/test-support/dicom-fixtures.js';
import { storeFiles } from '../server/src/dimse/store-scu.js';
import { generateUid } from '../server/src/util/uid.js';
import { createServer } from '../server/src/app.js';
import { loadConfig } from '../server/src/config.js';
import { startOrthanc } from '../server/test-support/dicom-peers.js';
import { freePort } from '../server/test-support/net.js';

const args = new Map(
  process.argv
    .slice(2)
    .map((a, i, all) => [a, all[i + 1]] as const)
    .filter(([a]) => a.startsWith('--')),
);
const RUNS = Number(args.get('--runs') ?? 5);
/**
 * Untimed runs first: our SCU and SCP run in a long-lived server, whose code is compiled by then;
 * with one warm-up run the JIT was still at work (100 small objects: ~120 ms on the first pass,
 * ~50 ms from the tenth).
 */
const WARMUP = Number(args.get('--warmup') ?? 3);
const ONLY = args.get('--only');

function dx(rows: number, columns: number): Buffer {
  const uid = generateUid();
  return writeDx({
    patient: { id: 'BENCH', name: 'Bench^Patient', birthDate: '19800101', sex: 'O', age: '045Y' },
    study: { instanceUid: generateUid(), id: '1', accessionNumber: '', referringPhysician: '', date: new Date() },
    series: { instanceUid: generateUid(), number: 1, description: 'bench' },
    instance: { sopInstanceUid: uid, number: 1, acquired: new Date() },
    view: { position: 'PA', laterality: 'U', bodyPart: 'CHEST', orientation: ['L', 'F'], sidMm: 1800 },
    exposure: { kV: 110, mA: 200, ms: 10, mAs: 2 },
    detector: { pixelSpacingMm: [0.14, 0.14], type: 'SCINTILLATOR' },
    pixels: { rows, columns, bitsStored: 14, data: testPattern(rows, columns, 14) },
    window: { center: 8192, width: 16384 },
    intent: 'FOR PRESENTATION',
    equipment: { manufacturer: 'Roentgen', model: 'Bench', stationName: 'B', softwareVersion: '0' },
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-dimse-bench-'));
const received = path.join(dir, 'received');
fs.mkdirSync(received);
const port = await freePort();
const env = { ...process.env, TCP_NODELAY: '1' };
/**
 * Each sender starts with storescp's folder empty and the filesystem synced: storescp creating
 * its files costs more than overwriting the ones the other sender left (the same SOP Instances),
 * and deletions are committed (with their discards) at the next journal commit, which the next
 * sender would otherwise pay for. Before this, ours always followed the clean-up and storescu
 * always overwrote: 100 small objects ~95 ms against ~50 ms when the order was swapped.
 */
function emptyReceived(): void {
  for (const f of fs.readdirSync(received)) fs.rmSync(path.join(received, f));
  spawnSync('sync');
}
const scp = spawn('storescp', ['-aet', 'STORESCP', '--output-directory', received, String(port)], { env, stdio: 'ignore' });
try {
  await new Promise((r) => setTimeout(r, 500));
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  for (const [label, count, rows, columns] of ONLY === 'scp'
    ? []
    : ([
        ['100 × ~130 KB', 100, 256, 256],
        ['20 × ~18 MB', 20, 3072, 3072],
      ] as const)) {
    const files = Array.from({ length: count }, () => dx(rows, columns));
    const paths = files.map((f, i) => {
      const p = path.join(dir, `${label.slice(0, 3)}-${i}.dcm`);
      fs.writeFileSync(p, f);
      return p;
    });
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
      emptyReceived();
      let started = performance.now();
      // Ours reads the files from disk as it sends them, as the send queue does.
      const outcomes = await storeFiles(
        { host: '127.0.0.1', port, callingAet: 'ROENTGEN', calledAet: 'STORESCP' },
        paths.map((p) => ({ path: p })),
        () => undefined,
      );
      const oursMs = performance.now() - started;
      if (outcomes.some((o) => o.status !== 0)) throw new Error('our C-STORE failed');
      emptyReceived();
      started = performance.now();
      const result = spawnSync('storescu', ['-aec', 'STORESCP', '127.0.0.1', String(port), ...paths], { env });
      const theirsMs = performance.now() - started;
      if (result.status !== 0) throw new Error(`storescu failed: ${result.stderr.toString()}`);
      if (run <= 0) continue; // warm-up
      ours.push(oursMs);
      theirs.push(theirsMs);
    }
    const mb = files.reduce((n, f) => n + f.length, 0) / 1e6;
    const [o, t] = [median(ours), median(theirs)];
    console.log(
      `C-STORE SCU ${label} (${mb.toFixed(0)} MB): ours ${o.toFixed(0)} ms (${(mb / (o / 1000)).toFixed(0)} MB/s), storescu ${t.toFixed(0)} ms (${(mb / (t / 1000)).toFixed(0)} MB/s): ${(t / o).toFixed(2)}× storescu (target ≥ 1.0×)`,
    );
  }
  if (ONLY !== 'scu') await scpComparison(median);
} finally {
  scp.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

/** storescu, asynchronously (our SCP answers on this process's event loop). */
function storescu(aec: string, port: number, paths: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile('storescu', ['-aec', aec, '127.0.0.1', String(port), ...paths], { env, maxBuffer: 1 << 24 }, (error, _out, stderr) => {
      if (error) reject(new Error(`storescu to ${aec} failed: ${stderr}`));
      else resolve(performance.now() - started);
    });
  });
}

async function scpComparison(median: (v: number[]) => number): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-dimse-scp-'));
  const server = await createServer(
    loadConfig({ ROENTGEN_DATA_DIR: dataDir, LOG_LEVEL: 'silent', ROENTGEN_ADMIN_PASSWORD: 'Bench-Console-Pass-42', DICOM_PORT: '0' }),
  );
  // storescu calls as STORESCU: our SCP admits only known calling AEs (issue 15).
  await server.db.kysely
    .updateTable('system_configs')
    .set({ config_value: 'STORESCU' })
    .where('config_key', '=', 'dicom.scp_allowed_aets')
    .execute();
  const orthanc = await startOrthanc();
  try {
    for (const [label, count, rows, columns] of [
      ['100 × ~130 KB', 100, 256, 256],
      ['20 × ~18 MB', 20, 3072, 3072],
    ] as const) {
      const ours: number[] = [];
      const oursIndexed: number[] = [];
      const theirs: number[] = [];
      for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
        // Fresh objects each run: both archives would otherwise only overwrite.
        const paths = Array.from({ length: count }, (_, i) => {
          const p = path.join(dir, `scp-${run}-${i}.dcm`);
          fs.writeFileSync(p, dx(rows, columns));
          return p;
        });
        // Each side starts with no dirty pages of the other's (or the fixtures') pending: an fsync
        // on ext4 waits for whatever else its journal commit carries.
        spawnSync('sync');
        const started = performance.now();
        const oursMs = await storescu('ROENTGEN', server.dicomPort, paths);
        await server.services.ingest.drainIndex();
        const indexedMs = performance.now() - started;
        await server.services.ingest.drain();
        spawnSync('sync');
        const theirsMs = await storescu(orthanc.aet, orthanc.dicomPort, paths);
        for (const p of paths) fs.rmSync(p);
        if (run <= 0) continue;
        ours.push(oursMs);
        oursIndexed.push(indexedMs);
        theirs.push(theirsMs);
      }
      const [o, i, t] = [median(ours), median(oursIndexed), median(theirs)];
      console.log(
        `C-STORE SCP ${label}: ours ${o.toFixed(0)} ms (${(count / (o / 1000)).toFixed(0)} objects/s; all indexed at ${i.toFixed(0)} ms), Orthanc ${t.toFixed(0)} ms (${(count / (t / 1000)).toFixed(0)} objects/s): ${(t / o).toFixed(2)}× Orthanc acknowledged, ${(t / i).toFixed(2)}× indexed (target ≥ 2×)`,
      );
    }
  } finally {
    await orthanc.stop();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
