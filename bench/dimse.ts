/**
 * DIMSE benchmark (issues 6, 16), in one run on 127.0.0.1:
 *
 * 1. SCU: our C-STORE SCU against DCMTK's storescu, both sending the same files to one DCMTK
 *    storescp, 100 × ~130 KB and 20 × ~18 MB DX objects, one association per batch; storescu's
 *    time includes its process start, as a console calling it would pay. Target ≥ 1.0× storescu
 *    (median). Each run also prints how much of the source files was in the page cache and how
 *    much dirty data the kernel held when each sender started: those explain the spread.
 * 2. SCP: storescu sends a study (one patient, study and series per batch) to our server's SCP
 *    and to Orthanc's (SyncStorageArea: fsynced like ours). Headline: the time from storescu's
 *    start until the last object is queryable, seen the way a client sees it: our study list
 *    and study stat over HTTP, Orthanc's /tools/find over REST, both polled every POLL_MS.
 *    Orthanc indexes before it acknowledges, we after (the ingest journal), so the acknowledge
 *    time is a secondary line. Target ≥ 2× Orthanc for both sizes.
 * 3. Sustained: storescu sends SUSTAINED small objects without a pause in one association to our
 *    SCP; acknowledgements are timed in the server per 100 objects (indexing catches up
 *    meanwhile and must not slow them: last 100 ≥ 0.8× the first 100), and the time until all
 *    are queryable is printed.
 *
 * The contenders' order alternates per run; min/median/max of each and the ratio of medians.
 *
 *   node --import tsx bench/dimse.ts [--runs 5] [--warmup 1] [--only scu|scp|sustained] [--sustained 1000]
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { writeDx } from '../server/src/dicom/dx-writer.js';
import { testPattern } from '../server/test-support/dicom-fixtures.js';
import { storeFiles } from '../server/src/dimse/store-scu.js';
import { generateUid } from '../server/src/util/uid.js';
import { createServer, type Server } from '../server/src/app.js';
import { loadConfig } from '../server/src/config.js';
import { startOrthanc, type OrthancPeer } from '../server/test-support/dicom-peers.js';
import { freePort } from '../server/test-support/net.js';

const args = new Map(
  process.argv
    .slice(2)
    .map((a, i, all) => [a, all[i + 1]] as const)
    .filter(([a]) => a.startsWith('--')),
);
const RUNS = Number(args.get('--runs') ?? 5);
/** Untimed runs first: our SCU and SCP run in a long-lived server whose code is compiled by then. */
const WARMUP = Number(args.get('--warmup') ?? 1);
const ONLY = args.get('--only');
const SUSTAINED = Number(args.get('--sustained') ?? 1000);
const POLL_MS = 10;
const PASSWORD = 'Bench-Console-Pass-42';
const SIZES = [
  ['100 × ~130 KB', 100, 256, 256],
  ['20 × ~18 MB', 20, 3072, 3072],
] as const;
const env = { ...process.env, TCP_NODELAY: '1' };

interface Batch {
  accession: string;
  paths: string[];
}

/** A batch of DX objects of one study on disk, files named after `tag`. */
function writeBatch(dir: string, tag: string, count: number, rows: number, columns: number): Batch {
  const accession = `B${Date.now() % 1e9}${Math.floor(Math.random() * 1e4)}`;
  const study = { instanceUid: generateUid(), id: '1', accessionNumber: accession, referringPhysician: '', date: new Date() };
  const series = { instanceUid: generateUid(), number: 1, description: 'bench' };
  const data = testPattern(rows, columns, 14);
  const paths = Array.from({ length: count }, (_, i) => {
    const p = path.join(dir, `${tag}-${i}.dcm`);
    const dx = writeDx({
      patient: { id: `BENCH-${accession}`, name: 'Bench^Patient', birthDate: '19800101', sex: 'O', age: '045Y' },
      study,
      series,
      instance: { sopInstanceUid: generateUid(), number: i + 1, acquired: new Date() },
      view: { position: 'PA', laterality: 'U', bodyPart: 'CHEST', orientation: ['L', 'F'], sidMm: 1800 },
      exposure: { kV: 110, mA: 200, ms: 10, mAs: 2 },
      detector: { pixelSpacingMm: [0.14, 0.14], type: 'SCINTILLATOR' },
      pixels: { rows, columns, bitsStored: 14, data },
      window: { center: 8192, width: 16384 },
      intent: 'FOR PRESENTATION',
      equipment: { manufacturer: 'Roentgen', model: 'Bench', stationName: 'B', softwareVersion: '0' },
    });
    fs.writeFileSync(p, dx);
    return p;
  });
  return { accession, paths };
}

const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
const median = (v: number[]) => sorted(v)[Math.floor(v.length / 2)];
const spread = (v: number[]) => `${sorted(v)[0].toFixed(0)}/${median(v).toFixed(0)}/${sorted(v)[v.length - 1].toFixed(0)} ms`;
const verdict = (ratio: number, target: number) => `${ratio.toFixed(2)}× (target ≥ ${target}×) ${ratio >= target ? 'PASS' : 'FAIL'}`;
const runOrder = <T>(run: number, a: T, b: T): T[] => (run % 2 === 0 ? [a, b] : [b, a]);

/** Percent of the files' bytes in the page cache (fincore), or -1 without it. */
function cachedPercent(paths: string[]): number {
  const out = spawnSync('fincore', ['--bytes', '--noheadings', '--raw', '-o', 'RES,SIZE', ...paths]);
  if (out.status !== 0) return -1;
  let res = 0;
  let size = 0;
  for (const line of out.stdout.toString().trim().split('\n')) {
    const [r, s] = line.split(/\s+/).map(Number);
    res += r;
    size += s;
  }
  return size === 0 ? -1 : (100 * res) / size;
}

/** CPU time (user, system) a process has used, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number): [number, number] {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return [Number(fields[11]) * 10, Number(fields[12]) * 10];
}

const meminfoMb = (field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 1024;

function storescu(aec: string, port: number, paths: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile('storescu', ['-aec', aec, '127.0.0.1', String(port), ...paths], { env, maxBuffer: 1 << 24 }, (error, _out, stderr) => {
      if (error) reject(new Error(`storescu to ${aec} failed: ${stderr}`));
      else resolve(performance.now() - started);
    });
  });
}

function request(url: string, method: string, token?: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      url,
      {
        method,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** How many objects of a batch a client can find: in our study list and the study's stat. */
async function oursQueryable(base: string, token: string, state: { studyId?: string }, accession: string): Promise<number> {
  if (!state.studyId) {
    const list = await request(`${base}/dr/api/v1/auth/study?acc_no=${accession}`, 'GET', token);
    if (list.status !== 200) throw new Error(`study list: ${list.status} ${JSON.stringify(list.json).slice(0, 300)}`);
    const studies = (list.json as { data?: { studies?: { study_id: string }[] } }).data?.studies ?? [];
    if (studies.length === 0) return 0;
    state.studyId = studies[0].study_id;
  }
  const stat = await request(`${base}/dr/api/v1/auth/study/${state.studyId}/stat`, 'GET', token);
  if (stat.status !== 200) throw new Error(`study stat: ${stat.status} ${JSON.stringify(stat.json).slice(0, 300)}`);
  return (stat.json as { data?: { total?: number } }).data?.total ?? 0;
}

/** How many objects of a batch Orthanc's REST API finds. */
async function orthancQueryable(orthanc: OrthancPeer, accession: string): Promise<number> {
  const found = await request(`${orthanc.url}/tools/find`, 'POST', undefined, { Level: 'Instance', Query: { AccessionNumber: accession } });
  return (found.json as string[]).length;
}

/** Polls until `count` are queryable; resolves with the time from `started`. */
async function untilQueryable(count: number, started: number, poll: () => Promise<number>): Promise<number> {
  for (;;) {
    if ((await poll()) >= count) return performance.now() - started;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** One batch sent by storescu; the acknowledge and queryable times. */
async function sendAndPoll(aec: string, port: number, batch: Batch, poll: () => Promise<number>): Promise<{ ack: number; query: number }> {
  spawnSync('sync'); // no dirty pages of the other side's (or the fixtures') pending
  const started = performance.now();
  const [ack, query] = await Promise.all([storescu(aec, port, batch.paths), untilQueryable(batch.paths.length, started, poll)]);
  return { ack, query };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-dimse-bench-'));
try {
  if (ONLY === undefined || ONLY === 'scu') await scuComparison();
  if (ONLY !== 'scu') await scpComparison();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function scuComparison(): Promise<void> {
  const received = path.join(dir, 'received');
  fs.mkdirSync(received);
  const port = await freePort();
  const scp = spawn('storescp', ['-aet', 'STORESCP', '--output-directory', received, String(port)], { env, stdio: 'ignore' });
  /**
   * Each sender starts with storescp's folder empty and the filesystem synced: creating files
   * costs more than overwriting the other sender's, and deletions are committed at the next
   * journal commit, which the next sender would otherwise pay for.
   */
  const emptyReceived = () => {
    for (const f of fs.readdirSync(received)) fs.rmSync(path.join(received, f));
    spawnSync('sync');
  };
  try {
    await new Promise((r) => setTimeout(r, 500));
    for (const [label, count, rows, columns] of SIZES) {
      const { paths } = writeBatch(dir, `scu-${count}`, count, rows, columns);
      const times = { ours: [] as number[], storescu: [] as number[] };
      const cpus = { ours: [] as number[], storescu: [] as number[] };
      const notes: string[] = [];
      for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
        const line: string[] = [];
        for (const who of runOrder<'ours' | 'storescu'>(run, 'ours', 'storescu')) {
          emptyReceived();
          const [cached, dirty, free] = [cachedPercent(paths), meminfoMb('Dirty'), meminfoMb('MemFree')];
          const receiverCpu = processCpuMs(scp.pid!);
          const started = performance.now();
          let cpuMs: number;
          if (who === 'ours') {
            const cpu = process.cpuUsage();
            // Ours reads the files from disk as it sends them, as the send queue does.
            const outcomes = await storeFiles(
              { host: '127.0.0.1', port, callingAet: 'ROENTGEN', calledAet: 'STORESCP' },
              paths.map((p) => ({ path: p })),
              () => undefined,
            );
            if (outcomes.some((o) => o.status !== 0)) throw new Error('our C-STORE failed');
            const used = process.cpuUsage(cpu);
            cpuMs = (used.user + used.system) / 1000;
          } else {
            // bash's `times` prints the CPU time its children used (user, then system).
            const result = spawnSync(
              'bash',
              ['-c', 'storescu "$@" || exit 1; times', 'storescu', '-aec', 'STORESCP', '127.0.0.1', String(port), ...paths],
              { env },
            );
            if (result.status !== 0) throw new Error(`storescu failed: ${result.stderr.toString()}`);
            const children = result.stdout.toString().trim().split('\n').pop() ?? '';
            cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((n, m) => n + (Number(m[1]) * 60 + Number(m[2])) * 1000, 0);
          }
          const ms = performance.now() - started;
          const receiverMs = processCpuMs(scp.pid!).map((v, i) => v - receiverCpu[i]);
          line.push(
            `${who} ${ms.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms CPU, storescp ${receiverMs[0]} + ${receiverMs[1]} ms CPU (user + system) (source ${cached.toFixed(0)} % cached, ${dirty.toFixed(0)} MB dirty, ${free.toFixed(0)} MB free)`,
          );
          if (run > 0) cpus[who].push(cpuMs);
          if (run > 0) times[who].push(ms);
        }
        if (run > 0) notes.push(`    run ${run}: ${line.join(', ')}`);
      }
      const mb = paths.reduce((n, p) => n + fs.statSync(p).size, 0) / 1e6;
      console.log(
        `C-STORE SCU ${label} (${mb.toFixed(0)} MB): ours ${spread(times.ours)}, storescu ${spread(times.storescu)} (min/median/max): ${verdict(median(times.storescu) / median(times.ours), 1)}`,
      );
      console.log(
        `    CPU time of the sender: ours ${spread(cpus.ours)}, storescu ${spread(cpus.storescu)}: ${(median(cpus.storescu) / median(cpus.ours)).toFixed(2)}× storescu`,
      );
      console.log(notes.join('\n'));
      for (const p of paths) fs.rmSync(p);
    }
  } finally {
    scp.kill('SIGKILL');
  }
}

async function scpComparison(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roentgen-dimse-scp-'));
  const server = await createServer(
    loadConfig({
      ROENTGEN_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      ROENTGEN_ADMIN_PASSWORD: PASSWORD,
      DICOM_PORT: '0',
      // A client polling every POLL_MS makes ~100 requests a second.
      RATE_LIMIT_PER_MINUTE: '1000000',
    }),
  );
  const base = (await server.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
  const login = await request(`${base}/api/v1/auth/login`, 'POST', undefined, { username: 'admin', password: PASSWORD });
  const token = (login.json as { data: { access_token: string } }).data.access_token;
  // storescu calls as STORESCU: our SCP admits only known calling AEs; an admin allows it as one
  // would (the server keeps its admission list from the configuration service, not the table).
  const allowed = await request(`${base}/api/v1/system/configs/dicom.scp_allowed_aets`, 'PUT', token, { config_value: 'STORESCU' });
  if (allowed.status !== 200) throw new Error(`allowing STORESCU failed: ${allowed.status}`);
  const orthanc = await startOrthanc();
  try {
    if (ONLY !== 'sustained') {
      for (const [label, count, rows, columns] of SIZES) await scpSize(server, base, token, orthanc, label, count, rows, columns);
    }
    await sustained(server, base, token);
  } finally {
    await orthanc.stop();
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function scpSize(
  server: Server,
  base: string,
  token: string,
  orthanc: OrthancPeer,
  label: string,
  count: number,
  rows: number,
  columns: number,
): Promise<void> {
  const ours = { ack: [] as number[], query: [] as number[] };
  const theirs = { ack: [] as number[], query: [] as number[] };
  for (let run = 1 - WARMUP; run <= RUNS; run += 1) {
    // Fresh objects each run (both archives would otherwise only find them stored); both sides
    // get the same files.
    const batch = writeBatch(dir, `scp-${run}`, count, rows, columns);
    for (const who of runOrder(run, 'ours', 'orthanc')) {
      if (who === 'ours') {
        const state: { studyId?: string } = {};
        const t = await sendAndPoll('ROENTGEN', server.dicomPort, batch, () => oursQueryable(base, token, state, batch.accession));
        // Our thumbnails are finished before Orthanc's turn so they do not take its CPU.
        await server.services.ingest.drain();
        if (run > 0) {
          ours.ack.push(t.ack);
          ours.query.push(t.query);
        }
      } else {
        const t = await sendAndPoll(orthanc.aet, orthanc.dicomPort, batch, () => orthancQueryable(orthanc, batch.accession));
        if (run > 0) {
          theirs.ack.push(t.ack);
          theirs.query.push(t.query);
        }
      }
    }
    for (const p of batch.paths) fs.rmSync(p);
  }
  console.log(
    `C-STORE SCP ${label}, until the last object is queryable: ours ${spread(ours.query)}, Orthanc ${spread(theirs.query)} (min/median/max): ${verdict(median(theirs.query) / median(ours.query), 2)}`,
  );
  console.log(
    `    acknowledged: ours ${spread(ours.ack)}, Orthanc ${spread(theirs.ack)}: ${(median(theirs.ack) / median(ours.ack)).toFixed(2)}× Orthanc`,
  );
}

/** SUSTAINED small objects in one association; our acknowledgements per 100, timed in the server. */
async function sustained(server: Server, base: string, token: string): Promise<void> {
  const batch = writeBatch(dir, 'sustained', SUSTAINED, 256, 256);
  const ingest = server.services.ingest;
  const acks: number[] = [];
  const original = ingest.ingest.bind(ingest);
  ingest.ingest = async (o) => {
    const outcome = await original(o);
    acks.push(performance.now());
    return outcome;
  };
  try {
    const state: { studyId?: string } = {};
    const t = await sendAndPoll('ROENTGEN', server.dicomPort, batch, () => oursQueryable(base, token, state, batch.accession));
    const rates: number[] = [];
    for (let k = 0; k * 100 < acks.length; k += 1) {
      const from = acks[Math.max(0, k * 100 - 1)];
      const to = acks[Math.min(acks.length, (k + 1) * 100) - 1];
      const objects = Math.min(acks.length, (k + 1) * 100) - Math.max(0, k * 100 - 1) - 1;
      rates.push(objects / ((to - from) / 1000));
    }
    const [first, last] = [rates[0], rates[rates.length - 1]];
    console.log(
      `C-STORE SCP sustained ${SUSTAINED} × ~130 KB in one association: acknowledged in ${t.ack.toFixed(0)} ms, all queryable at ${t.query.toFixed(0)} ms; acknowledgements per second by 100: ${rates.map((r) => r.toFixed(0)).join(', ')}; last/first ${verdict(last / first, 0.8)}`,
    );
    await ingest.drain();
  } finally {
    ingest.ingest = original;
    for (const p of batch.paths) fs.rmSync(p);
  }
}
